using System.Collections.Concurrent;
using System.Globalization;
using System.Runtime.CompilerServices;
using NvmeMptls.Target.Server;
using NvmeMptls.Target.Subsystems;
using NvmeMptls.Transport.Connections;
using NvmeMptls.Transport.Multipath;
using NvmeMptls.Transport.Nvme;
using Prometheus;

namespace NvmeMptls.Target.Metrics;

/// <summary>
/// The Prometheus metric families of the target, in their own <see cref="CollectorRegistry"/> (plus the .NET
/// runtime and process metrics). Most values are read from the existing counters at scrape time
/// (<see cref="ScrapeSampler"/>); only command latency and errors are observed on the completion path, through
/// labelled children created once per namespace so that path does not allocate.
/// </summary>
public sealed class TargetMetrics : ITargetObserver
{
    /// <summary>Seconds: 25 µs … ~3.3 s, doubling.</summary>
    private static readonly double[] s_latencyBuckets = Histogram.ExponentialBuckets(0.000025, 2, 18);

    private readonly ConditionalWeakTable<TargetNamespace, NamespaceMetrics> _namespaces = new();
    private readonly ConcurrentDictionary<(string Subsystem, uint Nsid, ushort Status), Counter.Child> _errors = new();
    private readonly Histogram _latency;
    private readonly Counter _commandErrors;
    private readonly Counter _tlsHandshakes;
    private readonly Counter _tlsRecordsSealed;
    private readonly Counter _tlsRecordsOpened;
    private readonly Counter _tlsKeyUpdates;
    private readonly Counter _accepted;
    private readonly Counter _closed;
    private long _closedSealed;
    private long _closedOpened;
    private long _closedKeyUpdatesSent;
    private long _closedKeyUpdatesReceived;

    public TargetMetrics(CollectorRegistry? registry = null, bool runtimeMetrics = true)
    {
        Registry = registry ?? Prometheus.Metrics.NewCustomRegistry();
        if (runtimeMetrics)
        {
            DotNetStats.Register(Registry);
        }

        Factory = Prometheus.Metrics.WithCustomRegistry(Registry);
        _latency = Factory.CreateHistogram(
            "nvmemptls_namespace_command_duration_seconds",
            "Time from receiving an I/O command capsule to writing its response, by operation.",
            ["subsystem", "nsid", "operation"],
            new HistogramConfiguration { Buckets = s_latencyBuckets, ExemplarBehavior = ExemplarBehavior.NoExemplars() });
        _commandErrors = Factory.CreateCounter(
            "nvmemptls_command_errors_total",
            "Commands completed with an error status, by subsystem, namespace (empty when none applies) and NVMe status (SCT<<8|SC in hex).",
            ["subsystem", "nsid", "status"]);
        _tlsHandshakes = Factory.CreateCounter(
            "nvmemptls_tls_handshakes_total",
            "TLS 1.3 handshakes on accepted connections, by outcome (success, failure), reason (why it failed; plaintext: a plaintext ICReq on a TLS-required port) and form (of a success: identity version and the PSK derivation the binder verified, v0-rfc, v0-compat, v1-rfc, v1-compat).",
            ["outcome", "reason", "form"]);
        _tlsRecordsSealed = Factory.CreateCounter("nvmemptls_tls_records_sealed_total", "TLS records protected and sent.");
        _tlsRecordsOpened = Factory.CreateCounter("nvmemptls_tls_records_opened_total", "TLS records received and authenticated.");
        _tlsKeyUpdates = Factory.CreateCounter(
            "nvmemptls_tls_key_updates_total",
            "TLS 1.3 KeyUpdate messages, by direction (sent, received).",
            ["direction"]);
        _accepted = Factory.CreateCounter(
            "nvmemptls_port_connections_accepted_total",
            "Connections accepted on each listener (port id; kind io or discovery), by transport mode at accept.",
            ["port", "kind", "mode"]);
        _closed = Factory.CreateCounter(
            "nvmemptls_port_connections_closed_total",
            "Connections that ended on each listener, whatever the reason.",
            ["port", "kind"]);

        // With process_cpu_seconds_total this gives CPU and allocation per I/O from outside (bench matrix).
        var allocated = Factory.CreateCounter(
            "nvmemptls_process_allocated_bytes_total",
            "Managed bytes allocated by the target process since it started (GC.GetTotalAllocatedBytes).");
        Registry.AddBeforeCollectCallback(() => allocated.IncTo(GC.GetTotalAllocatedBytes(precise: false)));
    }

    /// <summary>The registry the metric server exports.</summary>
    public CollectorRegistry Registry { get; }

    internal IMetricFactory Factory { get; }

    /// <summary>
    /// A TLS handshake ended: counted with outcome "success" or "failure" (the values deploy/prometheus/alerts.yml
    /// matches) and <paramref name="reason"/>, a short fixed word: the handshake failure reason, or "plaintext";
    /// <paramref name="form"/> the PSK form of a success ("v0-compat"…), empty for a failure.
    /// </summary>
    public void TlsHandshake(bool success, string reason, string form = "") =>
        _tlsHandshakes.WithLabels(success ? "success" : "failure", reason, form).Inc();

    /// <summary>
    /// A TLS connection ended with these lifetime totals. Live connections are summed at each scrape
    /// (<see cref="SampleTlsRecords"/>), so the record and KeyUpdate counters move while connections run.
    /// </summary>
    public void TlsConnectionClosed(long sealedRecords, long openedRecords, int keyUpdatesSent, int keyUpdatesReceived)
    {
        Interlocked.Add(ref _closedSealed, sealedRecords);
        Interlocked.Add(ref _closedOpened, openedRecords);
        Interlocked.Add(ref _closedKeyUpdatesSent, keyUpdatesSent);
        Interlocked.Add(ref _closedKeyUpdatesReceived, keyUpdatesReceived);
    }

    /// <summary>
    /// Sets the TLS counters to closed connections' totals plus the live ones given. A connection that closes
    /// during a scrape is first dropped from the live set and then added to the closed totals, so a race only
    /// undercounts for one scrape; <c>IncTo</c> never lets a counter go backwards.
    /// </summary>
    internal void SampleTlsRecords(long liveSealed, long liveOpened, long liveKeyUpdatesSent, long liveKeyUpdatesReceived)
    {
        _tlsRecordsSealed.IncTo(Interlocked.Read(ref _closedSealed) + liveSealed);
        _tlsRecordsOpened.IncTo(Interlocked.Read(ref _closedOpened) + liveOpened);
        _tlsKeyUpdates.WithLabels("sent").IncTo(Interlocked.Read(ref _closedKeyUpdatesSent) + liveKeyUpdatesSent);
        _tlsKeyUpdates.WithLabels("received").IncTo(Interlocked.Read(ref _closedKeyUpdatesReceived) + liveKeyUpdatesReceived);
    }

    public void ConnectionAccepted(TargetPortInfo port, TransportMode mode)
    {
        _accepted.WithLabels(ScrapeSampler.PortLabel(port), ScrapeSampler.KindLabel(port), ScrapeSampler.ModeLabel(mode)).Inc();
    }

    // The reason is counted from the engine's own counters (nvmemptls_connections_ended_total, sampled at scrape).
    public void ConnectionClosed(TargetPortInfo port, ConnectionEndReason reason) =>
        _closed.WithLabels(ScrapeSampler.PortLabel(port), ScrapeSampler.KindLabel(port)).Inc();

    /// <summary>The latency children of a namespace; created on first use, then found without allocating.</summary>
    public INamespaceObserver ForNamespace(string subsystemNqn, TargetNamespace ns)
    {
        if (_namespaces.TryGetValue(ns, out var metrics))
        {
            return metrics;
        }

        metrics = new NamespaceMetrics(_latency, subsystemNqn, ns.Nsid);
        _namespaces.AddOrUpdate(ns, metrics);
        return metrics;
    }

    /// <summary>Counts a command completed with an error (<paramref name="nsid"/> 0: no namespace applies).</summary>
    public void CommandError(string subsystemNqn, uint nsid, NvmeStatus status)
    {
        var key = (subsystemNqn, nsid, status.Code);
        _errors.GetOrAdd(key, static (k, self) => self._commandErrors.WithLabels(
            k.Subsystem,
            k.Nsid == 0 ? "" : k.Nsid.ToString(CultureInfo.InvariantCulture),
            "0x" + k.Status.ToString("x3", CultureInfo.InvariantCulture)), this).Inc();
    }

    /// <summary>Drops every series of a namespace that no longer exists.</summary>
    internal void ForgetNamespace(string subsystemNqn, uint nsid)
    {
        var id = nsid.ToString(CultureInfo.InvariantCulture);
        foreach (var op in NamespaceMetrics.Operations)
        {
            _latency.RemoveLabelled(subsystemNqn, id, op);
        }

        foreach (var key in _errors.Keys)
        {
            if (key.Nsid == nsid && key.Subsystem == subsystemNqn && _errors.TryRemove(key, out var child))
            {
                child.Dispose(); // removes the labelled series (ChildBase.Dispose calls Remove)
            }
        }
    }
}

/// <summary>The labelled latency children of one namespace, indexed by operation.</summary>
internal sealed class NamespaceMetrics : INamespaceObserver
{
    public static readonly string[] Operations = ["read", "write", "flush", "other"];

    private readonly Histogram.Child _read;
    private readonly Histogram.Child _write;
    private readonly Histogram.Child _flush;
    private readonly Histogram.Child _other;

    public NamespaceMetrics(Histogram latency, string subsystemNqn, uint nsid)
    {
        var id = nsid.ToString(CultureInfo.InvariantCulture);
        _read = latency.WithLabels(subsystemNqn, id, Operations[0]);
        _write = latency.WithLabels(subsystemNqn, id, Operations[1]);
        _flush = latency.WithLabels(subsystemNqn, id, Operations[2]);
        _other = latency.WithLabels(subsystemNqn, id, Operations[3]);
    }

    public void CommandCompleted(byte opcode, double seconds)
    {
        var child = opcode switch
        {
            IoOpcodes.Read => _read,
            IoOpcodes.Write => _write,
            IoOpcodes.Flush => _flush,
            _ => _other,
        };
        child.Observe(seconds);
    }
}
