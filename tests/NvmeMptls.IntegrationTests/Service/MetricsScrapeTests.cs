using NvmeMptls.Crypto.Psk;
using NvmeMptls.Initiator;
using NvmeMptls.IntegrationTests.TestKit;
using NvmeMptls.TestKit;
using NvmeMptls.Transport.Nvme;

namespace NvmeMptls.IntegrationTests.Service;

/// <summary>A known workload against the real target moves each metric by exactly the expected amount.</summary>
[TestFixture]
[NonParallelizable]
public sealed class MetricsScrapeTests
{
    private const string Nqn = "nqn.2026-01.io.nvmemptls:metrics-test";
    private string _dir = "";

    [SetUp]
    public void SetUp() => _dir = Directory.CreateTempSubdirectory("nvmemptls-metrics-").FullName;

    [TearDown]
    public void TearDown() => Directory.Delete(_dir, recursive: true);

    [Test]
    public async Task KnownWorkload_MovesEveryNamespaceAndPortCounterByExactlyTheWorkload()
    {
        var config = Path.Combine(_dir, "target.json");
        await File.WriteAllTextAsync(config, InProcessTarget.Config(TargetProcess.FreePort(), TargetProcess.FreePort(), Nqn,
            """{ "Nsid": 1, "Backing": "memory", "Size": "64MiB" }, { "Nsid": 2, "Backing": "memory", "Size": "16MiB", "LbaSize": 4096 }"""));
        await using var target = await InProcessTarget.StartAsync(config);

        var before = await MetricsScrape.FetchAsync(target.MetricsUrl);
        Assert.That(before.Sum("nvmemptls_namespace_commands_total"), Is.Zero);

        await using (var admin = await RawNvmeHost.OpenAsync(target.IoEndPoint, Nqn, 0))
        await using (var io = await RawNvmeHost.OpenAsync(target.IoEndPoint, Nqn, 1, admin.ControllerId))
        {
            var block = new byte[4096];
            for (var i = 0; i < 8; i++)
            {
                block.AsSpan().Fill((byte)(i + 1));
                var w = await io.WriteAsync(1, (ulong)i * 8, block);
                Assert.That(w.Status.IsSuccess, Is.True, w.Status.ToString());
            }

            for (var i = 0; i < 5; i++)
            {
                var r = await io.ReadAsync(1, (ulong)i * 8, 4096);
                Assert.That(r.Status.IsSuccess, Is.True, r.Status.ToString());
                Assert.That(r.Data![0], Is.EqualTo((byte)(i + 1)));
            }

            Assert.That((await io.FlushAsync(1)).Status.IsSuccess, Is.True);
            Assert.That((await io.FlushAsync(1)).Status.IsSuccess, Is.True);
            var w2 = await io.WriteAsync(2, 3, new byte[8192], lbaSize: 4096);
            Assert.That(w2.Status.IsSuccess, Is.True);

            // Two errors: a read of a namespace that does not exist and one beyond the end of namespace 2.
            var bad = await io.ReadAsync(7, 0, 512);
            Assert.That(bad.Status.StatusCode, Is.EqualTo((byte)NvmeStatusCodes.InvalidNamespace));
            var beyond = await io.ReadAsync(2, 4096, 4096, lbaSize: 4096);
            Assert.That(beyond.Status.StatusCode, Is.EqualTo((byte)(NvmeStatusCodes.LbaOutOfRange & 0xFF)));

            var during = await MetricsScrape.FetchAsync(target.MetricsUrl);
            Assert.Multiple(() =>
            {
                Assert.That(during.Sum("nvmemptls_port_queues", "port=1", "kind=io"), Is.EqualTo(2));
                Assert.That(during.Sum("nvmemptls_port_controllers", "port=1", "kind=io"), Is.EqualTo(1));
                Assert.That(during.Sum("nvmemptls_subsystem_controllers", $"subsystem={Nqn}"), Is.EqualTo(1));
                Assert.That(during.Sum("nvmemptls_connections"), Is.EqualTo(2));
            });
        }

        // The target notices the two closed connections asynchronously: scrape until it has. Gauges are sampled just
        // before a scrape and counters read during it, so a connection closing in between shows up in the counter
        // but not yet in the gauge: wait for a scrape where both agree.
        var after = await MetricsScrape.FetchAsync(target.MetricsUrl);
        for (var i = 0; i < 100 && (after.Sum("nvmemptls_port_connections_closed_total") < 2 || after.Sum("nvmemptls_connections") > 0); i++)
        {
            await Task.Delay(50);
            after = await MetricsScrape.FetchAsync(target.MetricsUrl);
        }

        foreach (var line in after.Text.Split('\n').Where(l => l.StartsWith("nvmemptls_", StringComparison.Ordinal) && !l.Contains("_bucket", StringComparison.Ordinal)))
        {
            TestContext.Out.WriteLine(line);
        }

        string[] ns1 = [$"subsystem={Nqn}", "nsid=1"];
        string[] ns2 = [$"subsystem={Nqn}", "nsid=2"];
        Assert.Multiple(() =>
        {
            Assert.That(after.Sum("nvmemptls_namespace_commands_total", [.. ns1, "operation=write"]), Is.EqualTo(8));
            Assert.That(after.Sum("nvmemptls_namespace_commands_total", [.. ns1, "operation=read"]), Is.EqualTo(5));
            Assert.That(after.Sum("nvmemptls_namespace_commands_total", [.. ns1, "operation=flush"]), Is.EqualTo(2));
            Assert.That(after.Sum("nvmemptls_namespace_commands_total", [.. ns2, "operation=write"]), Is.EqualTo(1));
            Assert.That(after.Sum("nvmemptls_namespace_written_bytes_total", ns1), Is.EqualTo(8 * 4096));
            Assert.That(after.Sum("nvmemptls_namespace_read_bytes_total", ns1), Is.EqualTo(5 * 4096));
            Assert.That(after.Sum("nvmemptls_namespace_written_bytes_total", ns2), Is.EqualTo(8192));
            Assert.That(after.Sum("nvmemptls_namespace_size_bytes", ns2), Is.EqualTo(16 << 20));
            Assert.That(after.Sum("nvmemptls_namespace_command_duration_seconds_count", [.. ns1, "operation=write"]), Is.EqualTo(8));
            Assert.That(after.Sum("nvmemptls_namespace_command_duration_seconds_count", [.. ns1, "operation=read"]), Is.EqualTo(5));
            Assert.That(after.Sum("nvmemptls_namespace_command_duration_seconds_bucket", [.. ns1, "operation=write", "le=+Inf"]), Is.EqualTo(8));
            Assert.That(after.Sum("nvmemptls_namespace_command_duration_seconds_sum", [.. ns1, "operation=write"]), Is.GreaterThan(0));
            Assert.That(after.Sum("nvmemptls_command_errors_total", $"subsystem={Nqn}", "nsid=", "status=0x00b"), Is.EqualTo(1));
            Assert.That(after.Sum("nvmemptls_command_errors_total", [.. ns2, "status=0x080"]), Is.EqualTo(1));
            Assert.That(after.Sum("nvmemptls_command_errors_total"), Is.EqualTo(2));
            Assert.That(after.Sum("nvmemptls_controllers_created_total"), Is.EqualTo(1));
            Assert.That(after.Sum("nvmemptls_port_connections_accepted_total", "port=1", "kind=io"), Is.EqualTo(2));
            Assert.That(after.Sum("nvmemptls_port_connections_closed_total", "port=1", "kind=io"), Is.EqualTo(2));
            Assert.That(after.Sum("nvmemptls_port_queues", "port=1", "kind=io"), Is.Zero);
            Assert.That(after.Sum("nvmemptls_connections"), Is.Zero);
            Assert.That(after.Sum("nvmemptls_termreqs_sent_total"), Is.Zero);
            Assert.That(after.Has("process_cpu_seconds_total"), Is.True, "runtime/process metrics missing");
        });
    }

    [Test]
    public async Task TlsWorkload_RecordCountersMoveWhileConnected_AndKeepTheirTotalsAfterClose()
    {
        using var psk = ConfiguredPsk.Generate(NvmePskHash.Sha256);
        string key = psk.ToInterchange();
        var config = Path.Combine(_dir, "target.json");
        await File.WriteAllTextAsync(config, InProcessTarget.Config(TargetProcess.FreePort(), TargetProcess.FreePort(), Nqn,
            """{ "Nsid": 1, "Backing": "memory", "Size": "16MiB" }"""));
        await using var target = await InProcessTarget.StartAsync(config, "--tls", "required", "--tls-key", key);
        var before = await MetricsScrape.FetchAsync(target.MetricsUrl);
        Assert.That(before.Sum("nvmemptls_tls_records_sealed_total"), Is.Zero);

        const string HostNqn = "nqn.2014-08.org.nvmexpress:uuid:00000000-7e57-4000-8000-00000000715c";
        var options = NvmeControllerOptions.Default with
        {
            TargetPort = target.IoEndPoint.Port,
            SubsystemNqn = Nqn,
            HostNqn = HostNqn,
            HostId = Guid.Parse("00000000-7e57-4000-8000-00000000715c"),
            IoQueueCount = 1,
            Tls = true,
            TlsKey = key,
        };
        MetricsScrape during;
        await using (var controller = await NvmeController.ConnectAsync(options))
        {
            var ns = await controller.OpenNamespaceAsync(1);
            var block = new byte[64 << 10];
            for (var i = 0; i < 16; i++)
            {
                await ns.WriteAsync((ulong)i * 128, block);
                await ns.ReadAsync((ulong)i * 128, block);
            }

            during = await MetricsScrape.FetchAsync(target.MetricsUrl);
        }

        using var otherKey = ConfiguredPsk.Generate(NvmePskHash.Sha256);
        var wrongKey = options with { TlsKey = otherKey.ToInterchange(), TlsIdentityVersion = 0, ControllerLossTimeout = TimeSpan.Zero };
        Assert.ThrowsAsync(Is.InstanceOf<IOException>(), async () => await NvmeController.ConnectAsync(wrongKey));

        // The target counts the refused handshake after it has sent its alert, so the client can be faster: scrape
        // until both the closed connections and the refusal are in.
        var after = await MetricsScrape.FetchAsync(target.MetricsUrl);
        for (var i = 0; i < 100 && (after.Sum("nvmemptls_port_connections_closed_total") < 2
                 || after.Sum("nvmemptls_tls_handshakes_total", "outcome=failure") < 1 || after.Sum("nvmemptls_tls_connections") > 0); i++)
        {
            await Task.Delay(50);
            after = await MetricsScrape.FetchAsync(target.MetricsUrl);
        }

        // While connected: 16 reads of 64 KiB leave as at least 4 records each (16 KiB records), 16 writes arrive
        // as at least 4 each; the counters show them before any connection has closed.
        Assert.Multiple(() =>
        {
            Assert.That(during.Sum("nvmemptls_tls_connections"), Is.EqualTo(2));
            Assert.That(during.Sum("nvmemptls_tls_handshakes_total", "outcome=success"), Is.EqualTo(2));
            Assert.That(during.Sum("nvmemptls_tls_handshakes_total", "outcome=success", "form=v1-rfc"), Is.EqualTo(2), "our initiator's default form");
            Assert.That(after.Sum("nvmemptls_tls_handshakes_total", "outcome=failure", "reason=PskMismatch"), Is.EqualTo(1), "a v0 identity with the wrong key");
            Assert.That(during.Sum("nvmemptls_port_connections_closed_total"), Is.Zero);
            Assert.That(during.Sum("nvmemptls_tls_records_sealed_total"), Is.GreaterThanOrEqualTo(16 * 4));
            Assert.That(during.Sum("nvmemptls_tls_records_opened_total"), Is.GreaterThanOrEqualTo(16 * 4));
            Assert.That(after.Sum("nvmemptls_tls_connections"), Is.Zero);
            Assert.That(after.Sum("nvmemptls_tls_records_sealed_total"), Is.GreaterThanOrEqualTo(during.Sum("nvmemptls_tls_records_sealed_total")));
            Assert.That(after.Sum("nvmemptls_tls_records_opened_total"), Is.GreaterThanOrEqualTo(during.Sum("nvmemptls_tls_records_opened_total")));
            Assert.That(after.Sum("nvmemptls_tls_key_updates_total"), Is.Zero);
        });
    }

    /// <summary>
    /// A target started with a key and no --tls-v0-form accepts version-0 identities in both derivation forms (told
    /// apart by the PSK binder) and version-1 identities in both (told apart by the digest); the handshake metric counts
    /// each under its form.
    /// </summary>
    [Test]
    public async Task TlsIdentitiesOfEveryForm_AcceptedWithoutFormSetting_CountedPerForm()
    {
        using var psk = ConfiguredPsk.Generate(NvmePskHash.Sha256);
        var config = Path.Combine(_dir, "target.json");
        await File.WriteAllTextAsync(config, InProcessTarget.Config(TargetProcess.FreePort(), TargetProcess.FreePort(), Nqn,
            """{ "Nsid": 1, "Backing": "memory", "Size": "16MiB" }"""));
        await using var target = await InProcessTarget.StartAsync(config, "--tls", "required", "--tls-key", psk.ToInterchange());
        var options = NvmeControllerOptions.Default with
        {
            TargetPort = target.IoEndPoint.Port,
            SubsystemNqn = Nqn,
            HostNqn = "nqn.2014-08.org.nvmexpress:uuid:00000000-7e57-4000-8000-0000000f0e15",
            IoQueueCount = 1,
            Tls = true,
            TlsKey = psk.ToInterchange(),
        };
        foreach (var (version, compat) in new[] { (0, false), (0, true), (0, true), (1, true) })
        {
            await using var controller = await NvmeController.ConnectAsync(options with { TlsIdentityVersion = version, TlsCompat = compat });
            var ns = await controller.OpenNamespaceAsync(1);
            var block = new byte[512];
            Random.Shared.NextBytes(block);
            await ns.WriteAsync(0, block);
            var back = new byte[512];
            await ns.ReadAsync(0, back);
            Assert.That(back, Is.EqualTo(block), $"v{version} {(compat ? "compat" : "rfc")}");
        }

        var scrape = await MetricsScrape.FetchAsync(target.MetricsUrl);
        Assert.Multiple(() =>
        {
            // Two queues (admin and one I/O) per connect.
            Assert.That(scrape.Sum("nvmemptls_tls_handshakes_total", "outcome=success", "form=v0-rfc"), Is.EqualTo(2));
            Assert.That(scrape.Sum("nvmemptls_tls_handshakes_total", "outcome=success", "form=v0-compat"), Is.EqualTo(4));
            Assert.That(scrape.Sum("nvmemptls_tls_handshakes_total", "outcome=success", "form=v1-compat"), Is.EqualTo(2));
            Assert.That(scrape.Sum("nvmemptls_tls_handshakes_total", "outcome=success", "form=v1-rfc"), Is.Zero);
            Assert.That(scrape.Sum("nvmemptls_tls_handshakes_total", "outcome=failure"), Is.Zero);
        });
    }
}
