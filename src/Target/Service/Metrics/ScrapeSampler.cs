using System.Globalization;
using NvmeMptls.Target.Auth;
using NvmeMptls.Target.Hosting;
using NvmeMptls.Target.Server;
using NvmeMptls.Target.Subsystems;
using NvmeMptls.Target.Tcp;
using NvmeMptls.Transport.Connections;
using NvmeMptls.Transport.Multipath;
using Prometheus;

namespace NvmeMptls.Target.Metrics;

/// <summary>
/// Fills the metric families that mirror counters the target already keeps (namespace I/O, target-wide protocol
/// counters) and samples live connection state (queues, controllers, MPTCP subflows, TLS providers) just before
/// each scrape, so the I/O path pays nothing for them.
/// </summary>
internal sealed class ScrapeSampler
{
    private readonly object _lock = new();
    private readonly TargetMetrics _metrics;
    private readonly NvmeTargetServer _server;
    private readonly Counter _commands;
    private readonly Counter _bytesRead;
    private readonly Counter _bytesWritten;
    private readonly Gauge _namespaceSize;
    private readonly Gauge _subsystemControllers;
    private readonly Counter _keepAliveExpiries;
    private readonly Counter _setupTimeouts;
    private readonly Counter _termReqsSent;
    private readonly Counter _termReqsReceived;
    private readonly Counter _connectRejected;
    private readonly Counter _controllersCreated;
    private readonly Counter _dataDigestErrors;
    private readonly Counter _connectionsEnded;
    private readonly Counter _authentications;
    private readonly Counter _limitsReached;
    private readonly Gauge _dataBuffers;
    private readonly Gauge _openConnections;
    private readonly Gauge _portQueues;
    private readonly Gauge _portControllers;
    private readonly Gauge _connectionsByMode;
    private readonly Gauge _tlsConnections;
    private readonly Gauge _subflows;
    private readonly Counter _subflowsAdded;
    private readonly Counter _subflowsRemoved;
    private readonly HashSet<(string Subsystem, uint Nsid)> _knownNamespaces = [];
    private readonly HashSet<string> _knownSubsystems = new(StringComparer.Ordinal);
    private readonly Dictionary<TargetQueue, int> _lastSubflows = [];
    private readonly List<string[]> _sampledLabels = [];

    public ScrapeSampler(TargetMetrics metrics, NvmeTargetServer server)
    {
        _metrics = metrics;
        _server = server;
        var f = metrics.Factory;
        _commands = f.CreateCounter("nvmemptls_namespace_commands_total", "I/O commands completed successfully, by operation (read, write, flush, other).", ["subsystem", "nsid", "operation"]);
        _bytesRead = f.CreateCounter("nvmemptls_namespace_read_bytes_total", "Bytes returned by successful Read commands.", ["subsystem", "nsid"]);
        _bytesWritten = f.CreateCounter("nvmemptls_namespace_written_bytes_total", "Bytes stored by successful Write commands.", ["subsystem", "nsid"]);
        _namespaceSize = f.CreateGauge("nvmemptls_namespace_size_bytes", "Namespace capacity.", ["subsystem", "nsid"]);
        _subsystemControllers = f.CreateGauge("nvmemptls_subsystem_controllers", "Live controllers of each subsystem.", ["subsystem"]);
        _keepAliveExpiries = f.CreateCounter("nvmemptls_keep_alive_expiries_total", "Controllers closed because the host's keep-alive timer expired.");
        _termReqsSent = f.CreateCounter("nvmemptls_termreqs_sent_total", "C2HTermReq PDUs sent, by fatal error status (FES).", ["fes"]);
        _termReqsReceived = f.CreateCounter("nvmemptls_termreqs_received_total", "H2CTermReq PDUs received from hosts.");
        _connectRejected = f.CreateCounter("nvmemptls_connect_rejected_total", "Connections or Connect commands refused (unknown subsystem, host not allowed, TLS required).");
        _controllersCreated = f.CreateCounter("nvmemptls_controllers_created_total", "Controllers created by admin-queue Connect commands.");
        _dataDigestErrors = f.CreateCounter("nvmemptls_data_digest_errors_total", "Received PDUs whose data digest (CRC32C) did not match.");
        _connectionsEnded = f.CreateCounter("nvmemptls_connections_ended_total", "Connections ended, by first cause (host_disconnected, termreq_received, termreq_sent, tls_error, connection_lost, keep_alive_expired, controller_closed, tls_key_limit, server_stopping, aborted, setup_timeout).", ["reason"]);
        _setupTimeouts = f.CreateCounter("nvmemptls_setup_timeouts_total", "Connections cut at a setup deadline, by phase (icreq: no ICReq, or on a TLS port no first bytes, in time; connect: no Connect in time).", ["phase"]);
        _authentications = f.CreateCounter("nvmemptls_authentications_total", "DH-HMAC-CHAP transactions ended, by outcome (success, failure) and reason (the Failure1 explanation: failed, not_usable, concat_mismatch, hash_unusable, dhgroup_unusable, incorrect_payload, incorrect_message; or host_rejected, timeout).", ["outcome", "reason"]);
        _limitsReached = f.CreateCounter("nvmemptls_limit_reached_total", "Times a Target:Limits cap held a peer back, by limit (connections, connections_per_address: closed at accept; connections_per_host, controllers_per_host: Connect Controller Busy; queue_parameters: Connect Invalid Parameters for SQSIZE or QID; buffered_bytes, connection_buffered_bytes, outstanding_r2t: a command waited).", ["limit"]);
        _dataBuffers = f.CreateGauge("nvmemptls_data_buffer_bytes", "Command data buffers of the process-wide pool, by state (in_use: rented now; retained: kept for reuse until the idle trim; budget: Target:Limits:MaxBufferedBytes).", ["state"]);
        _openConnections = f.CreateGauge("nvmemptls_open_connections", "Connections open now, from accept to close (before ICReq and TLS included), against Target:Limits:MaxConnections.");
        _portQueues = f.CreateGauge("nvmemptls_port_queues", "Live NVMe/TCP queues (connections) on each listener.", ["port", "kind"]);
        _portControllers = f.CreateGauge("nvmemptls_port_controllers", "Controllers with at least one queue on each listener.", ["port", "kind"]);
        _connectionsByMode = f.CreateGauge("nvmemptls_connections", "Live connections by transport mode (mptcp, mptcp_fallback, tcp, none).", ["mode"]);
        _tlsConnections = f.CreateGauge("nvmemptls_tls_connections", "Live TLS connections by AEAD provider in use.", ["seal_provider", "open_provider"]);
        _subflows = f.CreateGauge("nvmemptls_mptcp_subflows", "MPTCP subflows over all live connections.");
        _subflowsAdded = f.CreateCounter("nvmemptls_mptcp_subflows_added_total", "Subflows that appeared on live connections (sampled at each scrape).");
        _subflowsRemoved = f.CreateCounter("nvmemptls_mptcp_subflows_removed_total", "Subflows that disappeared from connections still open (sampled at each scrape; closing a connection is not counted).");
        foreach (var mode in ModeLabels)
        {
            _connectionsByMode.WithLabels(mode).Set(0);
        }

        metrics.Registry.AddBeforeCollectCallback(Sample);
    }

    internal static readonly string[] ModeLabels = ["mptcp", "mptcp_fallback", "tcp", "none"];

    internal static string ModeLabel(TransportMode mode) => mode switch
    {
        TransportMode.Mptcp => "mptcp",
        TransportMode.MptcpFallback => "mptcp_fallback",
        TransportMode.Tcp => "tcp",
        _ => "none",
    };

    internal static string EndReasonLabel(ConnectionEndReason reason) => reason switch
    {
        ConnectionEndReason.HostDisconnected => "host_disconnected",
        ConnectionEndReason.TermReqReceived => "termreq_received",
        ConnectionEndReason.TermReqSent => "termreq_sent",
        ConnectionEndReason.TlsError => "tls_error",
        ConnectionEndReason.ConnectionLost => "connection_lost",
        ConnectionEndReason.KeepAliveExpired => "keep_alive_expired",
        ConnectionEndReason.ControllerClosed => "controller_closed",
        ConnectionEndReason.TlsKeyLimit => "tls_key_limit",
        ConnectionEndReason.ServerStopping => "server_stopping",
        ConnectionEndReason.SetupTimeout => "setup_timeout",
        _ => "aborted",
    };

    internal static string LimitLabel(LimitKind limit) => limit switch
    {
        LimitKind.Connections => "connections",
        LimitKind.ConnectionsPerAddress => "connections_per_address",
        LimitKind.ConnectionsPerHost => "connections_per_host",
        LimitKind.ControllersPerHost => "controllers_per_host",
        LimitKind.QueueParameters => "queue_parameters",
        LimitKind.BufferedBytes => "buffered_bytes",
        LimitKind.ConnectionBufferedBytes => "connection_buffered_bytes",
        _ => "outstanding_r2t",
    };

    internal static string PhaseLabel(SetupPhase phase) => phase == SetupPhase.IcReq ? "icreq" : "connect";

    internal static string PortLabel(TargetPortInfo port) => port.Id.ToString(CultureInfo.InvariantCulture);

    internal static string KindLabel(TargetPortInfo port) => port.IsDiscovery ? "discovery" : "io";

    public void Sample()
    {
        lock (_lock)
        {
            SampleNamespaces(_server.Registry);
            SampleCounters(_server.Registry.Counters);
            SampleLimits(_server.Registry);
            SampleConnections();
        }
    }

    private void SampleNamespaces(TargetRegistry registry)
    {
        var seen = new HashSet<(string, uint)>();
        var seenSubsystems = new HashSet<string>(StringComparer.Ordinal);
        foreach (var s in registry.Subsystems)
        {
            seenSubsystems.Add(s.Nqn);
            _subsystemControllers.WithLabels(s.Nqn).Set(s.Controllers.Count());
            foreach (var ns in s.Namespaces)
            {
                if (ns.Removed)
                {
                    continue;
                }

                seen.Add((s.Nqn, ns.Nsid));
                var id = ns.Nsid.ToString(CultureInfo.InvariantCulture);
                var c = ns.Counters;
                _commands.WithLabels(s.Nqn, id, "read").IncTo(Interlocked.Read(ref c.ReadCommands));
                _commands.WithLabels(s.Nqn, id, "write").IncTo(Interlocked.Read(ref c.WriteCommands));
                _commands.WithLabels(s.Nqn, id, "flush").IncTo(Interlocked.Read(ref c.FlushCommands));
                _commands.WithLabels(s.Nqn, id, "other").IncTo(Interlocked.Read(ref c.OtherCommands));
                _bytesRead.WithLabels(s.Nqn, id).IncTo(Interlocked.Read(ref c.BytesRead));
                _bytesWritten.WithLabels(s.Nqn, id).IncTo(Interlocked.Read(ref c.BytesWritten));
                _namespaceSize.WithLabels(s.Nqn, id).Set(ns.Device.SizeBytes);
            }
        }

        foreach (var (nqn, nsid) in _knownNamespaces)
        {
            if (!seen.Contains((nqn, nsid)))
            {
                var id = nsid.ToString(CultureInfo.InvariantCulture);
                foreach (var op in NamespaceMetrics.Operations)
                {
                    _commands.RemoveLabelled(nqn, id, op);
                }

                _bytesRead.RemoveLabelled(nqn, id);
                _bytesWritten.RemoveLabelled(nqn, id);
                _namespaceSize.RemoveLabelled(nqn, id);
                _metrics.ForgetNamespace(nqn, nsid);
            }
        }

        foreach (var nqn in _knownSubsystems)
        {
            if (!seenSubsystems.Contains(nqn))
            {
                _subsystemControllers.RemoveLabelled(nqn);
            }
        }

        _knownNamespaces.Clear();
        _knownNamespaces.UnionWith(seen);
        _knownSubsystems.Clear();
        _knownSubsystems.UnionWith(seenSubsystems);
    }

    private void SampleCounters(TargetCounters counters)
    {
        _keepAliveExpiries.IncTo(Interlocked.Read(ref counters.KeepAliveExpiries));
        _termReqsReceived.IncTo(Interlocked.Read(ref counters.TermReqsReceived));
        _connectRejected.IncTo(Interlocked.Read(ref counters.ConnectRejected));
        _controllersCreated.IncTo(Interlocked.Read(ref counters.ControllersCreated));
        _dataDigestErrors.IncTo(Interlocked.Read(ref counters.DataDigestErrors));
        for (var fes = 0; fes < counters.TermReqsSentByFes.Length; fes++)
        {
            _termReqsSent.WithLabels(fes.ToString("x2", CultureInfo.InvariantCulture)).IncTo(Interlocked.Read(ref counters.TermReqsSentByFes[fes]));
        }

        for (var reason = 0; reason < counters.ConnectionsEndedByReason.Length; reason++)
        {
            _connectionsEnded.WithLabels(EndReasonLabel((ConnectionEndReason)reason)).IncTo(Interlocked.Read(ref counters.ConnectionsEndedByReason[reason]));
        }

        for (var phase = 0; phase < counters.SetupTimeouts.Length; phase++)
        {
            _setupTimeouts.WithLabels(PhaseLabel((SetupPhase)phase)).IncTo(Interlocked.Read(ref counters.SetupTimeouts[phase]));
        }

        for (var outcome = 0; outcome < counters.AuthenticationsByOutcome.Length; outcome++)
        {
            var value = Interlocked.Read(ref counters.AuthenticationsByOutcome[outcome]);
            if (value > 0)
            {
                var (label, reason) = AuthenticationLabels((AuthenticationOutcome)outcome);
                _authentications.WithLabels(label, reason).IncTo(value);
            }
        }
    }

    private void SampleLimits(TargetRegistry registry)
    {
        var reached = registry.Counters.LimitsReached;
        for (var limit = 0; limit < reached.Length; limit++)
        {
            _limitsReached.WithLabels(LimitLabel((LimitKind)limit)).IncTo(Interlocked.Read(ref reached[limit]));
        }

        _dataBuffers.WithLabels("in_use").Set(registry.Buffers.BytesInUse);
        _dataBuffers.WithLabels("retained").Set(registry.Buffers.BytesRetained);
        _dataBuffers.WithLabels("budget").Set(registry.Buffers.BudgetBytes);
        _openConnections.Set(_server.OpenConnections);
    }

    internal static (string Outcome, string Reason) AuthenticationLabels(AuthenticationOutcome outcome) => outcome switch
    {
        AuthenticationOutcome.Success => ("success", ""),
        AuthenticationOutcome.Failed => ("failure", "failed"),
        AuthenticationOutcome.NotUsable => ("failure", "not_usable"),
        AuthenticationOutcome.ConcatMismatch => ("failure", "concat_mismatch"),
        AuthenticationOutcome.HashUnusable => ("failure", "hash_unusable"),
        AuthenticationOutcome.DhGroupUnusable => ("failure", "dhgroup_unusable"),
        AuthenticationOutcome.IncorrectPayload => ("failure", "incorrect_payload"),
        AuthenticationOutcome.IncorrectMessage => ("failure", "incorrect_message"),
        AuthenticationOutcome.HostRejected => ("failure", "host_rejected"),
        _ => ("failure", "timeout"),
    };

    private void SampleConnections()
    {
        // Zero every gauge series set last time so connections that went away stop counting.
        foreach (var labels in _sampledLabels)
        {
            if (labels.Length == 2 && labels[0] != "tls")
            {
                _portQueues.WithLabels(labels).Set(0);
                _portControllers.WithLabels(labels).Set(0);
            }
            else if (labels.Length == 3)
            {
                _tlsConnections.WithLabels(labels[1], labels[2]).Set(0);
            }
        }

        _sampledLabels.Clear();
        var modes = new Dictionary<string, int>(StringComparer.Ordinal);
        var queues = new Dictionary<(string, string), int>();
        var controllers = new Dictionary<(string, string), HashSet<object>>();
        var tls = new Dictionary<(string, string), int>();
        var subflows = 0;
        long sealedRecords = 0, openedRecords = 0, keyUpdatesSent = 0, keyUpdatesReceived = 0;
        var live = new HashSet<TargetQueue>();
        foreach (var (queue, transport) in _server.Connections)
        {
            live.Add(queue);
            var key = (PortLabel(queue.Port), KindLabel(queue.Port));
            queues[key] = queues.GetValueOrDefault(key) + 1;
            if (queue.Controller is { } controller)
            {
                if (!controllers.TryGetValue(key, out var set))
                {
                    controllers[key] = set = [];
                }

                set.Add(controller);
            }

            var status = SafeStatus(transport);
            var mode = ModeLabel(status?.Mode ?? TransportMode.None);
            modes[mode] = modes.GetValueOrDefault(mode) + 1;
            var count = status?.Subflows.Count ?? 0;
            subflows += count;
            var last = _lastSubflows.GetValueOrDefault(queue, -1);
            if (last >= 0 && count > last)
            {
                _subflowsAdded.Inc(count - last);
            }
            else if (last > count)
            {
                _subflowsRemoved.Inc(last - count);
            }

            _lastSubflows[queue] = count;
            if (queue.Connection.Tls is { } info)
            {
                var t = (info.SealProvider, info.OpenProvider);
                tls[t] = tls.GetValueOrDefault(t) + 1;
            }

            if (queue.Connection is NvmeMptls.Transport.Tls.TlsRecordConnection records)
            {
                sealedRecords += records.RecordsSealed;
                openedRecords += records.RecordsOpened;
                keyUpdatesSent += records.KeyUpdatesSent;
                keyUpdatesReceived += records.KeyUpdatesReceived;
            }
        }

        foreach (var gone in _lastSubflows.Keys.Where(q => !live.Contains(q)).ToList())
        {
            _lastSubflows.Remove(gone);
        }

        foreach (var mode in ModeLabels)
        {
            _connectionsByMode.WithLabels(mode).Set(modes.GetValueOrDefault(mode));
        }

        foreach (var ((port, kind), n) in queues)
        {
            _portQueues.WithLabels(port, kind).Set(n);
            _portControllers.WithLabels(port, kind).Set(controllers.TryGetValue((port, kind), out var set) ? set.Count : 0);
            _sampledLabels.Add([port, kind]);
        }

        foreach (var ((seal, open), n) in tls)
        {
            _tlsConnections.WithLabels(seal, open).Set(n);
            _sampledLabels.Add(["tls", seal, open]);
        }

        _subflows.Set(subflows);
        _metrics.SampleTlsRecords(sealedRecords, openedRecords, keyUpdatesSent, keyUpdatesReceived);
    }

    private static MultipathStatus? SafeStatus(StreamConnection connection)
    {
        try
        {
            return connection.GetMultipathStatus();
        }
        catch (Exception ex) when (ex is ObjectDisposedException or System.Net.Sockets.SocketException or InvalidOperationException)
        {
            return null;
        }
    }
}
