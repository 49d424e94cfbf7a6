using Microsoft.Extensions.Logging;
using NvmeMptls.Target.Auth;
using NvmeMptls.Target.Controllers;
using NvmeMptls.Target.Server;
using NvmeMptls.Target.Subsystems;
using NvmeMptls.Transport.Nvme;

namespace NvmeMptls.Target.Commands;

/// <summary>
/// The Fabrics commands of one queue: Connect (creates a controller on the admin queue, joins one on an I/O queue,
/// and binds the queue to it), Property Get/Set on the admin queue, Disconnect. Reference §2.3–§2.5.
/// </summary>
internal sealed class FabricsCommands(CommandExecutor executor, ILogger logger)
{
    private readonly CommandExecutor _executor = executor;
    private readonly ILogger _logger = logger;

    public void Execute(CommandContext ctx)
    {
        ref readonly var cmd = ref ctx.Command;
        if (cmd.FabricsType == FabricsOpcodes.Connect)
        {
            Connect(ctx);
            return;
        }

        // NVMe-oF §3.3: anything before Connect is a sequence error.
        if (_executor.Controller is not { } controller)
        {
            _executor.Complete(ctx, CommandExecutor.Dnr(NvmeStatusCodes.CommandSequenceError));
            return;
        }

        var admin = _executor.QueueId == 0;
        switch (cmd.FabricsType)
        {
            case FabricsOpcodes.PropertyGet when admin:
                PropertyGet(ctx, controller);
                return;
            case FabricsOpcodes.PropertySet when admin:
                PropertySet(ctx, controller);
                return;
            case FabricsOpcodes.Disconnect:
                _executor.Complete(ctx, NvmeStatus.Success);
                return;
            default:
                _executor.Complete(ctx, CommandExecutor.Dnr(NvmeStatusCodes.InvalidOpcode));
                return;
        }
    }

    /// <summary>Fabrics Connect for the admin queue (creates a controller) or an I/O queue (joins one). Reference §2.3.</summary>
    private void Connect(CommandContext ctx)
    {
        var connect = ConnectCommand.Read(ctx.Command);
        var qid = connect.QueueId;
        var sqsize = connect.SqSize;
        var kato = connect.KeepAliveMilliseconds;

        if (_executor.Controller is not null)
        {
            Refuse(ctx, NvmeStatusCodes.CommandSequenceError, 0, "second Connect on the same queue");
            return;
        }

        if (ctx.TransferLength != ConnectData.Size)
        {
            Refuse(ctx, NvmeStatusCodes.SglInvalidDataLength, 0, $"Connect data of {ctx.TransferLength} bytes, expected {ConnectData.Size} in-capsule");
            return;
        }

        if (connect.RecordFormat != 0)
        {
            Refuse(ctx, NvmeStatusCodes.ConnectIncompatibleFormat, 0, $"RECFMT {connect.RecordFormat}");
            return;
        }

        var queue = _executor.Queue;
        var registry = _executor.Registry;
        var data = ConnectData.Read(ctx.Data);
        // NVMe Base §4.5: HOSTNQN is an NQN (the peer rule TLS identities follow too); an empty or malformed one
        // names no host and is refused at its offset in the Connect data.
        if (Nqn.CheckPeer(data.HostNqn) is { } hostProblem)
        {
            Refuse(ctx, NvmeStatusCodes.ConnectInvalidParameters, ConnectResponse.InvalidHostNqn, $"HOSTNQN '{data.HostNqn}' {hostProblem}");
            return;
        }

        var subsystem = registry.Find(data.SubsystemNqn);
        if (subsystem is null)
        {
            Refuse(ctx, NvmeStatusCodes.ConnectInvalidParameters, ConnectResponse.InvalidSubsystemNqn, $"unknown subsystem {data.SubsystemNqn}");
            return;
        }

        if (!subsystem.AllowsHost(data.HostNqn))
        {
            Refuse(ctx, NvmeStatusCodes.ConnectInvalidHost, 0, $"host {data.HostNqn} is not allowed on {subsystem.Nqn}");
            return;
        }

        // TLS binds the association to the host named in the PSK identity: a host holding a valid PSK
        // cannot connect as another host.
        if (queue.Tls is { HostNqn: { } tlsHost } && !string.Equals(tlsHost, data.HostNqn, StringComparison.Ordinal))
        {
            Refuse(ctx, NvmeStatusCodes.ConnectInvalidHost, 0, $"host NQN {data.HostNqn} differs from the TLS PSK identity's host {tlsHost}");
            return;
        }

        // A TLS identity names the subsystem it was derived for (NVMe/TCP TP 8011: retained and configured PSKs are per
        // host and subsystem), and opens only that one. Discovery is the exception: a host that holds a PSK for a
        // subsystem may ask what else it is allowed (the log lists only what its host NQN may reach).
        if (queue.Tls is { SubsystemNqn: { } tlsSubsystem } && !subsystem.IsDiscovery && !string.Equals(tlsSubsystem, subsystem.Nqn, StringComparison.Ordinal))
        {
            Refuse(ctx, NvmeStatusCodes.ConnectInvalidHost, 0, $"subsystem {subsystem.Nqn} differs from the TLS PSK identity's subsystem {tlsSubsystem}");
            return;
        }

        if (queue.Port.Tls == PortTlsMode.Required && queue.Tls is null)
        {
            Refuse(ctx, NvmeStatusCodes.ConnectInvalidHost, 0, "this port requires TLS");
            return;
        }

        // A host that must concatenate brings its I/O queues over TLS with the generated PSK, never in the clear.
        if (qid != 0 && queue.Tls is null && !subsystem.IsDiscovery && registry.Authentication.Find(subsystem.Nqn, data.HostNqn) is { SecureConcat: true })
        {
            Refuse(ctx, NvmeStatusCodes.ConnectInvalidHost, 0, $"host {data.HostNqn} must use secure channel concatenation: I/O queues connect over TLS with the generated PSK");
            return;
        }

        if (sqsize == 0 || sqsize + 1 > registry.Limits.MaxQueueSize)
        {
            Interlocked.Increment(ref registry.Counters.LimitsReached[(int)LimitKind.QueueParameters]);
            Refuse(ctx, NvmeStatusCodes.ConnectInvalidParameters, ConnectResponse.InvalidSqSize, $"SQSIZE {sqsize} outside 1..{registry.Limits.MaxQueueSize - 1}");
            return;
        }

        // Per-host caps: Connect Controller Busy, without DNR, because the condition clears when the host's other
        // associations end (a Linux host then retries at its reconnect delay; nvmet answers Controller Busy, with DNR,
        // when it runs out of controller ids).
        if (qid == 0 && registry.ControllersOf(data.HostNqn) >= registry.Limits.MaxControllersPerHost)
        {
            Interlocked.Increment(ref registry.Counters.LimitsReached[(int)LimitKind.ControllersPerHost]);
            Refuse(ctx, NvmeStatusCodes.ConnectControllerBusy, 0, $"host {data.HostNqn} already has {registry.Limits.MaxControllersPerHost} controllers (Target:Limits:MaxControllersPerHost)", dnr: false);
            return;
        }

        if (!registry.TryAddHostQueue(data.HostNqn))
        {
            Interlocked.Increment(ref registry.Counters.LimitsReached[(int)LimitKind.ConnectionsPerHost]);
            Refuse(ctx, NvmeStatusCodes.ConnectControllerBusy, 0, $"host {data.HostNqn} already has {registry.Limits.MaxConnectionsPerHost} queues connected (Target:Limits:MaxConnectionsPerHost)", dnr: false);
            return;
        }

        // From here every refusal gives the host's queue back; success keeps it until the queue detaches.
        if (!BindQueue(ctx, connect, data, subsystem, qid, sqsize, kato))
        {
            registry.RemoveHostQueue(data.HostNqn);
        }
    }

    /// <summary>The admin Connect creates a controller, an I/O Connect joins one; false when refused.</summary>
    private bool BindQueue(CommandContext ctx, ConnectCommand connect, ConnectData data, Subsystem subsystem, ushort qid, ushort sqsize, uint kato)
    {
        var queue = _executor.Queue;
        var registry = _executor.Registry;
        TargetController controller;
        if (qid == 0)
        {
            // Dynamic controller model only: the admin Connect asks for CNTLID FFFFh.
            if (data.ControllerId != ConnectData.DynamicControllerId)
            {
                Refuse(ctx, NvmeStatusCodes.ConnectInvalidParameters, ConnectResponse.InvalidControllerId, $"admin Connect with CNTLID {data.ControllerId:x4} (dynamic model needs FFFFh)");
                return false;
            }

            if (subsystem.IsDiscovery && kato == 0)
            {
                kato = (uint)registry.Limits.DiscoveryDefaultKeepAlive.TotalMilliseconds;
            }

            if (registry.AllocateControllerId() is not { } cntlid)
            {
                Refuse(ctx, NvmeStatusCodes.ConnectControllerBusy, 0,
                    $"every controller id {registry.Limits.ControllerIdMin}..{registry.Limits.ControllerIdMax} of this target is in use", dnr: false);
                return false;
            }

            // The subsystem owns the controller from here on and closes it with its association.
#pragma warning disable CA2000 // ownership moves to the subsystem on the next line
            controller = new TargetController(registry, subsystem, cntlid, data.HostNqn, data.HostId, kato, _logger);
#pragma warning restore CA2000
            subsystem.Attach(controller);
            Interlocked.Increment(ref registry.Counters.ControllersCreated);
        }
        else
        {
            var existing = subsystem.FindController(data.ControllerId);
            if (existing is null || existing.Closed)
            {
                Refuse(ctx, NvmeStatusCodes.ConnectInvalidParameters, ConnectResponse.InvalidControllerId, $"no controller {data.ControllerId} on {subsystem.Nqn}");
                return false;
            }

            if (!string.Equals(existing.HostNqn, data.HostNqn, StringComparison.Ordinal))
            {
                Refuse(ctx, NvmeStatusCodes.ConnectInvalidParameters, ConnectResponse.InvalidHostNqn, $"controller {data.ControllerId} belongs to another host");
                return false;
            }

            if (existing.IsDiscovery || qid > existing.IoQueueLimit)
            {
                Interlocked.Increment(ref registry.Counters.LimitsReached[(int)LimitKind.QueueParameters]);
                Refuse(ctx, NvmeStatusCodes.ConnectInvalidParameters, ConnectResponse.InvalidQueueId, $"QID {qid} beyond the {existing.IoQueueLimit} I/O queues granted");
                return false;
            }

            controller = existing;
        }

        if (!controller.TryAttachQueue(qid, queue))
        {
            Refuse(ctx, NvmeStatusCodes.CommandSequenceError, 0, $"queue {qid} of controller {controller.ControllerId} already exists");
            return false;
        }

        _executor.Bind(controller, qid);
        if (qid == 0)
        {
            // NVMe Base 2.0 §3.9 (Keep Alive): the timer is activated when the admin Connect completes, as Linux nvmet
            // starts it when it allocates the controller; a host that connects and never enables the controller (nor
            // sends Keep Alive) is torn down at KATO instead of being held forever.
            controller.StartKeepAlive();
        }

        bool authenticate = RequireAuthentication(subsystem, data.HostNqn, qid, controller.KeepAliveTimeoutMs, out bool secureChannel);
        queue.OnConnected(qid, sqsize + 1, sqFlowControlDisabled: connect.SqFlowControlDisabled);
        CommandLog.QueueConnected(_logger, queue.RemoteEndPoint, qid == 0 ? "admin" : "I/O", qid, controller.ControllerId, subsystem.Nqn, data.HostNqn);
        _executor.Complete(ctx, NvmeStatus.Success, ConnectResponse.Success(controller.ControllerId, authenticate, secureChannel).Dw0);
        return true;
    }

    /// <summary>
    /// NVMe Base 2.0 §8.13 / reference §5: a host with a configured secret must authenticate every queue, which Connect
    /// says with ATR (and ASCR on the plain admin queue of a host that must concatenate, TP 8018). Like the kernel target
    /// (nvmet_has_auth), not on a queue TLS already authenticated, and never on the discovery subsystem; a TLS admin
    /// queue still runs a transaction when the host starts one, to re-key with REPLACETLSPSK.
    /// </summary>
    private bool RequireAuthentication(Subsystem subsystem, string hostNqn, ushort qid, uint keepAliveMs, out bool secureChannel)
    {
        secureChannel = false;
        var registry = _executor.Registry;
        var keys = subsystem.IsDiscovery ? null : registry.Authentication.Find(subsystem.Nqn, hostNqn);
        var tls = _executor.Queue.Tls;
        if (keys is null || (tls is not null && qid != 0))
        {
            return false;
        }
        // Kernel nvmet_execute_auth_send: a stalled transaction expires after KATO, or 120 s without keep-alive.
        var timeout = keepAliveMs > 0 ? TimeSpan.FromMilliseconds(keepAliveMs) : TimeSpan.FromSeconds(120);
        string remote = _executor.Queue.RemoteEndPoint?.ToString() ?? "?";
        var security = new QueueSecurity(tls is not null, tls?.PskIdentity, _executor.Queue.Port.Tls != PortTlsMode.None);
#pragma warning disable CA2000 // the executor owns it and disposes it when the queue detaches
        _executor.RequireAuthentication(new AuthTransaction(registry, subsystem.Nqn, hostNqn, qid, remote, timeout, _logger, security), required: tls is null);
#pragma warning restore CA2000
        secureChannel = tls is null && qid == 0 && keys.SecureConcat;
        return tls is null;
    }

    private void Refuse(CommandContext ctx, ushort code, uint dw0, string detail, bool dnr = true)
    {
        var status = dnr ? CommandExecutor.Dnr(code) : new NvmeStatus(code);
        Interlocked.Increment(ref _executor.Registry.Counters.ConnectRejected);
        CommandLog.ConnectRefused(_logger, _executor.Queue.RemoteEndPoint, NvmeStatusCodes.Describe(status), detail);
        _executor.Complete(ctx, status, dw0);
    }

    /// <summary>Property Get: CAP (8 bytes), VS, CC, CSTS. Reference §2.4.</summary>
    private void PropertyGet(CommandContext ctx, TargetController c)
    {
        ref readonly var cmd = ref ctx.Command;
        var eightBytes = ControllerRegisters.IsEightByteProperty(cmd);
        ulong? value = cmd.Cdw11 switch
        {
            PropertyOffsets.Cap => c.Capabilities,
            PropertyOffsets.Vs => TargetController.VersionValue,
            PropertyOffsets.Cc => c.ControllerConfiguration,
            PropertyOffsets.Csts => c.ControllerStatus,
            _ => null,
        };
        if (value is not { } v || (eightBytes && cmd.Cdw11 != PropertyOffsets.Cap))
        {
            _executor.Complete(ctx, CommandExecutor.Dnr(NvmeStatusCodes.InvalidField));
            return;
        }

        _executor.Complete(ctx, NvmeStatus.Success, (uint)v, eightBytes ? (uint)(v >> 32) : 0);
    }

    /// <summary>Property Set: only CC is writable. Reference §2.4–§2.5.</summary>
    private void PropertySet(CommandContext ctx, TargetController controller)
    {
        ref readonly var cmd = ref ctx.Command;
        if (cmd.Cdw11 != PropertyOffsets.Cc || (cmd.Cdw10 & 7) != 0) // only the 4-byte CC is writable
        {
            _executor.Complete(ctx, CommandExecutor.Dnr(NvmeStatusCodes.InvalidField));
            return;
        }

        controller.WriteControllerConfiguration(cmd.Cdw12);
        _executor.Complete(ctx, NvmeStatus.Success);
    }
}
