using System.Security.Cryptography;
using NvmeMptls.Crypto.Auth;
using NvmeMptls.Crypto.Psk;
using NvmeMptls.Initiator;
using NvmeMptls.IntegrationTests.TestKit;

namespace NvmeMptls.IntegrationTests.Service;

/// <summary>
/// Secure channel concatenation (TP 8018) end to end on loopback: the real target started with the quick-start flags
/// <c>--dhchap-secret … --dhchap-concat</c>, our initiator with <see cref="NvmeControllerOptions.SecureConcat"/>. The admin
/// queue authenticates in the clear (ATR|ASCR, SC_C NEWTLSPSK), then admin and I/O queues come back with TLS under the
/// generated <c>NVMe1G…</c> PSK over TCP or MPTCP; data is written and read back; REPLACETLSPSK re-keys; the Prometheus
/// export counts generated keys and TLS handshakes.
/// </summary>
[TestFixture]
[NonParallelizable]
public sealed class SecureConcatServiceTests
{
    private const string Nqn = "nqn.2026-01.io.nvmemptls:concat-test";
    private const string HostNqn = "nqn.2014-08.org.nvmexpress:uuid:00000000-7e57-4000-8000-0000000cc0c1";
    private string _dir = "";

    [SetUp]
    public void SetUp() => _dir = Directory.CreateTempSubdirectory("nvmemptls-concat-").FullName;

    [TearDown]
    public void TearDown() => Directory.Delete(_dir, recursive: true);

    private async Task<InProcessTarget> StartAsync(DhChapSecret hostSecret)
    {
        var config = Path.Combine(_dir, "target.json");
        await File.WriteAllTextAsync(config, InProcessTarget.Config(TargetProcess.FreePort(), TargetProcess.FreePort(), Nqn,
            """{ "Nsid": 1, "Backing": "memory", "Size": "16MiB" }"""));
        return await InProcessTarget.StartAsync(config, "--dhchap-secret", hostSecret.ToInterchange(), "--dhchap-concat");
    }

    [TestCase(NvmeMultipathPolicy.Disabled, "tls/tcp")]
    [TestCase(NvmeMultipathPolicy.Required, "tls/mptcp")]
    public async Task Concat_ReconnectsEveryQueueWithTheGeneratedPsk_AndDataVerifies(NvmeMultipathPolicy multipath, string transport)
    {
        using var hostSecret = DhChapSecret.Generate(1, 32, HostNqn);
        await using var target = await StartAsync(hostSecret);
        var options = NvmeControllerOptions.Default with
        {
            TargetPort = target.IoEndPoint.Port,
            SubsystemNqn = Nqn,
            HostNqn = HostNqn,
            IoQueueCount = 2,
            Multipath = multipath,
            DhChapSecret = hostSecret.ToInterchange(),
            SecureConcat = true,
        };

        var data = RandomNumberGenerator.GetBytes(256 * 1024);
        var back = new byte[data.Length];
        var started = System.Diagnostics.Stopwatch.StartNew();
        await using (var controller = await NvmeController.ConnectAsync(options))
        {
            TestContext.Out.WriteLine($"{transport}: concatenated (plain admin + DH-HMAC-CHAP sha256/ffdhe2048) and reconnected 3 queues with TLS in {started.ElapsedMilliseconds} ms");
            var paths = controller.GetQueuePaths();
            Assert.That(paths, Has.Count.EqualTo(3), "admin + 2 I/O queues");
            foreach (var path in paths)
            {
                Assert.That(path.Transport, Is.EqualTo(transport), $"queue {path.QueueId}");
                Assert.That(path.Tls?.PskIdentity, Does.StartWith($"NVMe1G01 {HostNqn} {Nqn} "), $"queue {path.QueueId}");
            }

            var ns = await controller.OpenNamespaceAsync(1);
            await ns.WriteAsync(8, data);
            await ns.ReadAsync(8, back);
            Assert.That(back, Is.EqualTo(data));

            string before = paths[0].Tls!.PskIdentity;
            string replaced = await controller.ReplaceTlsPskAsync();
            Assert.That(replaced, Does.StartWith($"NVMe1G01 {HostNqn} {Nqn} ").And.Not.EqualTo(before), "REPLACETLSPSK gives a new key");
            var store = target.Service.Server!.Registry.GeneratedPsks;
            Assert.That(NvmePskIdentity.TryParse(replaced, out var replacedIdentity, out _), Is.True);
            Assert.That(NvmePskIdentity.TryParse(before, out var beforeIdentity, out _), Is.True);
            using (var current = store.Find(replacedIdentity!))
            {
                Assert.That(current, Is.Not.Null, "the target holds the new key");
            }

            Assert.That(store.Find(beforeIdentity!), Is.Null, "and retired the one it replaced");
            await ns.ReadAsync(8, back);
            Assert.That(back, Is.EqualTo(data), "the queues keep their sessions after the re-key");
        }

        var scrape = await MetricsScrape.FetchAsync(target.MetricsUrl);
        Assert.Multiple(() =>
        {
            Assert.That(scrape.Sum("nvmemptls_generated_psks_total", "kind=new"), Is.EqualTo(1));
            Assert.That(scrape.Sum("nvmemptls_generated_psks_total", "kind=replace"), Is.EqualTo(1));
            Assert.That(scrape.Sum("nvmemptls_authentications_total", "outcome=success"), Is.EqualTo(2), "the plain admin queue, then the re-key");
        });
    }

    [Test]
    public async Task ConcatRequired_HostWithoutConcat_IsToldToUseIt()
    {
        using var hostSecret = DhChapSecret.Generate(1, 32, HostNqn);
        await using var target = await StartAsync(hostSecret);
        var options = NvmeControllerOptions.Default with
        {
            TargetPort = target.IoEndPoint.Port,
            SubsystemNqn = Nqn,
            HostNqn = HostNqn,
            IoQueueCount = 1,
            Multipath = NvmeMultipathPolicy.Disabled,
            DhChapSecret = hostSecret.ToInterchange(),
            ControllerLossTimeout = TimeSpan.Zero,
        };
        var refused = Assert.ThrowsAsync<NvmeAuthenticationException>(async () => await NvmeController.ConnectAsync(options));
        Assert.That(refused!.Message, Does.Contain("--concat"));
    }
}
