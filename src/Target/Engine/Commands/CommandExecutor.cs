using Microsoft.Extensions.Logging;
using NvmeMptls.Target.Auth;
using NvmeMptls.Target.Controllers;
using NvmeMptls.Target.Server;
using NvmeMptls.Target.Subsystems;
using NvmeMptls.Transport.Nvme;

namespace NvmeMptls.Target.Commands;

/// <summary>
/// The command layer of one queue, below the transport and above the controller: the transport hands it each
/// command twice — <see cref="Admit"/> when the capsule is in (before any data is asked for) and
/// <see cref="Execute"/> when the data is in — and gets the completion back through <see cref="ICommandQueue.Send"/>.
/// Fabrics commands go to <see cref="FabricsCommands"/> (Connect binds the queue to a controller), admin commands
/// to the controller, I/O commands to the <see cref="IoExecutor"/>.
/// </summary>
internal sealed class CommandExecutor
{
    private readonly FabricsCommands _fabrics;
    private readonly AuthCommands _auth;
    private bool _authenticationRequired;
    private TargetNamespace? _metricsNamespace;
    private INamespaceObserver? _metricsNamespaceChildren;

    public CommandExecutor(ICommandQueue queue, TargetRegistry registry, ILogger logger)
    {
        Queue = queue;
        Registry = registry;
        _fabrics = new FabricsCommands(this, logger);
        _auth = new AuthCommands(this);
        Io = new IoExecutor(this, logger);
    }

    public ICommandQueue Queue { get; }

    public TargetRegistry Registry { get; }

    public IoExecutor Io { get; }

    /// <summary>The controller a Connect bound this queue to; null until then.</summary>
    public TargetController? Controller { get; private set; }

    public ushort QueueId { get; private set; }

    /// <summary>The queue's in-band authentication when its Connect returned ATR; null when the host need not authenticate.</summary>
    public AuthTransaction? Authentication { get; private set; }

    /// <summary>Where completed commands are observed (latency, errors); null when metrics are off.</summary>
    public ITargetObserver? Metrics { get; set; }

    public static NvmeStatus Dnr(ushort code) => new((ushort)(code | NvmeStatus.DnrBit));

    /// <summary>Checks a command whose capsule is in, before the transport asks the host for its data: success, or the status to answer with.</summary>
    public NvmeStatus Admit(CommandContext ctx)
    {
        if (ctx.Command.Opcode == FabricsOpcodes.Fabrics)
        {
            // Fabrics commands carry their data in the capsule.
            return ctx.DataFollowsCapsule ? Dnr(NvmeStatusCodes.SglInvalidDataLength) : NvmeStatus.Success;
        }

        // NVMe-oF §3.3: until Connect succeeds only a Connect command is valid on a queue.
        if (Controller is not { } controller)
        {
            return Dnr(NvmeStatusCodes.CommandSequenceError);
        }

        // NVMe Base 2.0 §8.13: after a Connect that returned ATR, only Fabrics commands run until the queue has
        // authenticated (kernel nvmet_check_auth_status); everything else is Authentication Required.
        if (_authenticationRequired && Authentication is { Authenticated: false })
        {
            return Dnr(NvmeStatusCodes.AuthenticationRequired);
        }

        return QueueId != 0 ? IoExecutor.Validate(ctx, controller) : NvmeStatus.Success;
    }

    /// <summary>Runs an admitted command whose data (if any) is in its buffer; it completes through <see cref="Complete"/>, now or later.</summary>
    public void Execute(CommandContext ctx)
    {
        ctx.SetState(CommandState.Executing);
        ExecuteCore(ctx);
    }

    /// <summary>
    /// Runs a command that waited for its data buffer, unless its connection closed (and freed the slot) meanwhile.
    /// </summary>
    public bool TryExecute(CommandContext ctx)
    {
        if (!ctx.TrySetState(CommandState.Receiving, CommandState.Executing))
        {
            return false;
        }

        ExecuteCore(ctx);
        return true;
    }

    private void ExecuteCore(CommandContext ctx)
    {
        if (ctx.Command.Opcode == FabricsOpcodes.Fabrics)
        {
            if (ctx.Command.FabricsType is FabricsOpcodes.AuthenticationSend or FabricsOpcodes.AuthenticationReceive && Controller is not null)
            {
                _auth.Execute(ctx, Authentication);
            }
            else
            {
                _fabrics.Execute(ctx);
            }
        }
        else if (QueueId != 0)
        {
            Io.Execute(ctx);
        }
        else
        {
            ExecuteAdmin(ctx, Controller!);
        }
    }

    private void ExecuteAdmin(CommandContext ctx, TargetController controller)
    {
        // An AER is held before the controller sees it: an event already pending completes it at once, from inside.
        if (ctx.Command.Opcode == AdminOpcodes.AsyncEventRequest)
        {
            ctx.SetState(CommandState.Held);
        }

        var result = controller.ExecuteAdmin(ctx);
        if (!result.Held)
        {
            Complete(ctx, result.Status, result.Dw0, result.Dw1, result.DataLength);
        }
    }

    /// <summary>Sets the completion, records an error in the controller's error log, and hands it to the queue to send.</summary>
    public void Complete(CommandContext ctx, NvmeStatus status, uint dw0 = 0, uint dw1 = 0, int dataLength = 0)
    {
        ctx.SetState(CommandState.Completing);
        Finish(ctx, status, dw0, dw1, dataLength);
    }

    /// <summary>Completes a held command (an AER) unless its connection closed first.</summary>
    public void CompleteHeld(CommandContext ctx, NvmeStatus status, uint dw0)
    {
        if (ctx.TrySetState(CommandState.Held, CommandState.Completing))
        {
            Finish(ctx, status, dw0, 0, 0);
        }
    }

    private void Finish(CommandContext ctx, NvmeStatus status, uint dw0, uint dw1, int dataLength)
    {
        ctx.SetCompletion(status, dw0, dw1, status.IsSuccess ? dataLength : 0);
        if (!status.IsSuccess)
        {
            Controller?.RecordError(QueueId, ctx.Command.CommandId, status, ctx.Command.Nsid);
            if (ctx.Namespace is { } ns)
            {
                Interlocked.Increment(ref ns.Counters.Errors);
            }
        }

        Queue.Send(ctx);
    }

    /// <summary>A Connect succeeded: this queue now belongs to <paramref name="controller"/>.</summary>
    internal void Bind(TargetController controller, ushort qid)
    {
        Controller = controller;
        QueueId = qid;
    }

    /// <summary>
    /// A Connect returned ATR: the queue runs this transaction before anything but Fabrics commands. Not
    /// <paramref name="required"/>: the queue (a TLS admin queue) runs it only when the host starts one (REPLACETLSPSK).
    /// </summary>
    internal void RequireAuthentication(AuthTransaction transaction, bool required = true)
    {
        Authentication = transaction;
        _authenticationRequired = required;
        transaction.TearDown = detail => _ = CloseForAuthenticationAsync(TimeSpan.Zero, detail);
    }

    /// <summary>After a failed authentication: the response carrying the verdict is out; close the connection after
    /// <paramref name="linger"/> (the host reads the Failure and normally closes first).</summary>
    private async Task CloseForAuthenticationAsync(TimeSpan linger, string detail)
    {
        if (linger > TimeSpan.Zero)
        {
            await Task.Delay(linger, Registry.Time).ConfigureAwait(false);
        }
        try
        {
            await Queue.AbortAsync(ConnectionEndReason.AuthenticationFailed, detail).ConfigureAwait(false);
        }
        catch (ObjectDisposedException)
        {
            // The host closed first.
        }
    }

    /// <summary>The connection closed: leave the controller (closing it when this was its admin queue) and drop any authentication state.</summary>
    public void Detach()
    {
        Authentication?.Dispose();
        if (Controller is { } controller)
        {
            controller.DetachQueue(QueueId, Queue);
            Registry.RemoveHostQueue(controller.HostNqn);
        }
    }

    /// <summary>Counts a completed command against its namespace (SMART log, metrics) and observes its latency. Send loop only.</summary>
    public void OnResponseSent(CommandContext ctx)
    {
        if (ctx.Command.Opcode == FabricsOpcodes.Fabrics && Authentication is { } auth && auth.TakeCloseRequest(out string closeReason))
        {
            _ = CloseForAuthenticationAsync(AuthTransaction.FailureLinger, closeReason);
        }

        if (Metrics is { } metrics && Controller is { IsDiscovery: false } controller)
        {
            ObserveMetrics(metrics, controller.Subsystem.Nqn, ctx);
        }

        if (ctx.Namespace is not { } ns || !ctx.Completion.Status.IsSuccess)
        {
            return;
        }

        var c = ns.Counters;
        switch (ctx.Command.Opcode)
        {
            case IoOpcodes.Read:
                Interlocked.Increment(ref c.ReadCommands);
                Interlocked.Add(ref c.BytesRead, ctx.TransferLength);
                break;
            case IoOpcodes.Write:
                Interlocked.Increment(ref c.WriteCommands);
                Interlocked.Add(ref c.BytesWritten, ctx.TransferLength);
                break;
            case IoOpcodes.Flush:
                Interlocked.Increment(ref c.FlushCommands);
                break;
            default:
                Interlocked.Increment(ref c.OtherCommands);
                break;
        }
    }

    // Runs on the send loop only, so the one-entry namespace cache needs no lock; the lookup allocates only the
    // first time a namespace is seen by the metrics.
    private void ObserveMetrics(ITargetObserver metrics, string subsystemNqn, CommandContext ctx)
    {
        var status = ctx.Completion.Status;
        if (!status.IsSuccess)
        {
            metrics.CommandError(subsystemNqn, ctx.Namespace?.Nsid ?? 0, status);
            return;
        }

        if (ctx.Namespace is not { } ns)
        {
            return;
        }

        if (!ReferenceEquals(ns, _metricsNamespace))
        {
            _metricsNamespaceChildren = metrics.ForNamespace(subsystemNqn, ns);
            _metricsNamespace = ns;
        }

        var elapsed = Registry.Time.GetElapsedTime(ctx.StartTimestamp);
        _metricsNamespaceChildren!.CommandCompleted(ctx.Command.Opcode, elapsed.TotalSeconds);
    }
}
