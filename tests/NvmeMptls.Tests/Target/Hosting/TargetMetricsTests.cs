using Microsoft.Extensions.Logging.Abstractions;
using NvmeMptls.Target.Hosting;
using NvmeMptls.Target.Metrics;
using NvmeMptls.Target.Namespaces;
using NvmeMptls.Target.Server;
using NvmeMptls.Target.Subsystems;
using NvmeMptls.Transport.Nvme;
using Prometheus;

namespace NvmeMptls.Tests.Target.Hosting;

[TestFixture]
public sealed class TargetMetricsTests
{
    private const string Nqn = "nqn.2026-01.io.nvmemptls:unit";

    private static TargetNamespace Namespace(uint nsid) =>
        new(nsid, new MemoryBlockDevice(1 << 20, 512), Guid.NewGuid(), Guid.NewGuid(), readOnly: false);

    [Test]
    public void CompletionPath_AfterFirstUse_AllocatesNothing()
    {
        var metrics = new TargetMetrics(runtimeMetrics: false);
        var ns = Namespace(1);
        var children = metrics.ForNamespace(Nqn, ns);
        var error = NvmeStatus.Make(0, (byte)NvmeStatusCodes.InvalidNamespace, dnr: true);
        // First use of each child may set up its state once; steady state is what must not allocate.
        for (var op = 0; op < 4; op++)
        {
            children.CommandCompleted((byte)op, 0.0001);
        }

        metrics.CommandError(Nqn, 1, error);

        // A first pass pays any one-time cost (lazy set-up, tiered JIT); the second is the steady state.
        Run(metrics, ns, error);
        var before = GC.GetAllocatedBytesForCurrentThread();
        Run(metrics, ns, error);
        Assert.That(GC.GetAllocatedBytesForCurrentThread() - before, Is.Zero);

        static void Run(TargetMetrics metrics, TargetNamespace ns, NvmeStatus error)
        {
            for (var i = 0; i < 100_000; i++)
            {
                metrics.ForNamespace(Nqn, ns).CommandCompleted((byte)(i & 3), i * 1e-6);
                metrics.CommandError(Nqn, 1, error);
            }
        }
    }

    [Test]
    public void For_SameNamespace_ReturnsTheSameChildren_NewNamespaceObject_NewChildren()
    {
        var metrics = new TargetMetrics(runtimeMetrics: false);
        var ns = Namespace(1);
        var first = metrics.ForNamespace(Nqn, ns);
        var again = metrics.ForNamespace(Nqn, ns);
        var other = metrics.ForNamespace(Nqn, Namespace(1));
        Assert.That(again, Is.SameAs(first));
        Assert.That(other, Is.Not.SameAs(first));
    }

    [Test]
    public async Task Scrape_MirrorsNamespaceCounters_AndDropsRemovedNamespaces()
    {
        var metrics = new TargetMetrics(runtimeMetrics: false);
        var registry = new TargetRegistry(new TargetLimits());
        var subsystem = new Subsystem(Nqn, "SN", "MN", isDiscovery: false, HostAccess.Any);
        var ns1 = Namespace(1);
        var ns2 = Namespace(2);
        subsystem.AddNamespace(ns1);
        subsystem.AddNamespace(ns2);
        registry.AddSubsystem(subsystem);
        await using var server = new NvmeTargetServer(registry, NullLoggerFactory.Instance, metrics: metrics);
        _ = new ScrapeSampler(metrics, server);

        ns1.Counters.WriteCommands = 7;
        ns1.Counters.BytesWritten = 7 * 4096;
        registry.Counters.TermReqsSentByFes[2] = 3;
        var text = await Export(metrics.Registry);
        Assert.That(text, Does.Contain($"nvmemptls_namespace_commands_total{{subsystem=\"{Nqn}\",nsid=\"1\",operation=\"write\"}} 7"));
        Assert.That(text, Does.Contain($"nvmemptls_namespace_written_bytes_total{{subsystem=\"{Nqn}\",nsid=\"1\"}} 28672"));
        Assert.That(text, Does.Contain("nvmemptls_termreqs_sent_total{fes=\"02\"} 3"));
        Assert.That(text, Does.Contain("nsid=\"2\""));

        await subsystem.RemoveNamespaceAsync(2, TimeSpan.FromSeconds(1));
        text = await Export(metrics.Registry);
        Assert.That(text, Does.Not.Contain("nsid=\"2\""));
        Assert.That(text, Does.Contain("nsid=\"1\""));
    }

    [Test]
    public async Task Scrape_ExportsConnectionsEndedByReason()
    {
        var text = await ScrapeWithAsync(counters =>
        {
            counters.ConnectionsEndedByReason[(int)ConnectionEndReason.TermReqReceived] = 2;
            counters.ConnectionsEndedByReason[(int)ConnectionEndReason.HostDisconnected] = 5;
        });
        Assert.That(text, Does.Contain("nvmemptls_connections_ended_total{reason=\"termreq_received\"} 2"));
        Assert.That(text, Does.Contain("nvmemptls_connections_ended_total{reason=\"host_disconnected\"} 5"));
        Assert.That(text, Does.Contain("nvmemptls_connections_ended_total{reason=\"keep_alive_expired\"} 0"), "every reason is exported from the start");
    }

    [Test]
    public async Task Scrape_ExportsSetupTimeoutsByPhase()
    {
        var text = await ScrapeWithAsync(counters =>
        {
            counters.SetupTimeouts[(int)SetupPhase.IcReq] = 3;
            counters.ConnectionsEndedByReason[(int)ConnectionEndReason.SetupTimeout] = 2;
        });
        Assert.That(text, Does.Contain("nvmemptls_setup_timeouts_total{phase=\"icreq\"} 3"));
        Assert.That(text, Does.Contain("nvmemptls_setup_timeouts_total{phase=\"connect\"} 0"));
        Assert.That(text, Does.Contain("nvmemptls_connections_ended_total{reason=\"setup_timeout\"} 2"));
    }

    [Test]
    public async Task Scrape_ExportsDataAndSendDeadlinesAsPhasesAndTransferTimeoutAsAReason()
    {
        var text = await ScrapeWithAsync(counters =>
        {
            counters.SetupTimeouts[(int)SetupPhase.Data] = 4;
            counters.SetupTimeouts[(int)SetupPhase.Send] = 1;
            counters.ConnectionsEndedByReason[(int)ConnectionEndReason.TransferTimeout] = 5;
        });
        Assert.That(text, Does.Contain("nvmemptls_setup_timeouts_total{phase=\"data\"} 4"));
        Assert.That(text, Does.Contain("nvmemptls_setup_timeouts_total{phase=\"send\"} 1"));
        Assert.That(text, Does.Contain("nvmemptls_connections_ended_total{reason=\"transfer_timeout\"} 5"));
    }

    [Test]
    public async Task Scrape_ExportsEveryLimitReachedAndTheDataBufferPool()
    {
        var text = await ScrapeWithAsync(counters =>
        {
            counters.LimitsReached[(int)LimitKind.ConnectionsPerAddress] = 4;
            counters.LimitsReached[(int)LimitKind.OutstandingR2T] = 7;
        });
        Assert.That(text, Does.Contain("nvmemptls_limit_reached_total{limit=\"connections_per_address\"} 4"));
        Assert.That(text, Does.Contain("nvmemptls_limit_reached_total{limit=\"outstanding_r2t\"} 7"));
        foreach (var limit in new[] { "connections", "connections_per_host", "controllers_per_host", "queue_parameters", "buffered_bytes", "connection_buffered_bytes" })
        {
            Assert.That(text, Does.Contain($"nvmemptls_limit_reached_total{{limit=\"{limit}\"}} 0"), limit);
        }

        Assert.That(text, Does.Contain("nvmemptls_data_buffer_bytes{state=\"budget\"} 1073741824"));
        Assert.That(text, Does.Contain("nvmemptls_data_buffer_bytes{state=\"in_use\"} 0"));
        Assert.That(text, Does.Contain("nvmemptls_open_connections 0"));
    }

    /// <summary>A server with a sampler on fresh metrics; <paramref name="set"/> fills the engine's counters before the scrape.</summary>
    private static async Task<string> ScrapeWithAsync(Action<TargetCounters> set)
    {
        var metrics = new TargetMetrics(runtimeMetrics: false);
        var registry = new TargetRegistry(new TargetLimits());
        await using var server = new NvmeTargetServer(registry, NullLoggerFactory.Instance, metrics: metrics);
        _ = new ScrapeSampler(metrics, server);
        set(registry.Counters);
        return await Export(metrics.Registry);
    }

    private static async Task<string> Export(CollectorRegistry registry)
    {
        using var stream = new MemoryStream();
        await registry.CollectAndExportAsTextAsync(stream);
        return System.Text.Encoding.UTF8.GetString(stream.ToArray());
    }
}
