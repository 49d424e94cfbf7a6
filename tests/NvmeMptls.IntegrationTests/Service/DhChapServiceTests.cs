using NvmeMptls.Crypto.Auth;
using NvmeMptls.Initiator;
using NvmeMptls.IntegrationTests.TestKit;

namespace NvmeMptls.IntegrationTests.Service;

/// <summary>
/// The real target started with the quick-start flags <c>--dhchap-secret</c>/<c>--dhchap-ctrl-secret</c> over loopback
/// TCP: our initiator authenticates every queue (bidirectionally), a wrong secret is refused, and the Prometheus
/// export counts both. (Linux hosts and targets are the VM harness's job.)
/// </summary>
[TestFixture]
[NonParallelizable]
public sealed class DhChapServiceTests
{
    private const string Nqn = "nqn.2026-01.io.nvmemptls:dhchap-test";
    private const string HostNqn = "nqn.2014-08.org.nvmexpress:uuid:00000000-7e57-4000-8000-0000000dc4a9";
    private string _dir = "";

    [SetUp]
    public void SetUp() => _dir = Directory.CreateTempSubdirectory("nvmemptls-dhchap-").FullName;

    [TearDown]
    public void TearDown() => Directory.Delete(_dir, recursive: true);

    [Test]
    public async Task QuickStartFlags_AuthenticateEveryQueue_RefuseAWrongSecret_AndAreCounted()
    {
        using var hostSecret = DhChapSecret.Generate(1, 32, HostNqn);
        using var controllerSecret = DhChapSecret.Generate(2, 48, Nqn);
        using var wrongSecret = DhChapSecret.Generate(0, 32, null);
        var config = Path.Combine(_dir, "target.json");
        await File.WriteAllTextAsync(config, InProcessTarget.Config(TargetProcess.FreePort(), TargetProcess.FreePort(), Nqn,
            """{ "Nsid": 1, "Backing": "memory", "Size": "16MiB" }"""));
        await using var target = await InProcessTarget.StartAsync(config,
            "--dhchap-secret", hostSecret.ToInterchange(), "--dhchap-ctrl-secret", controllerSecret.ToInterchange());

        var options = NvmeControllerOptions.Default with
        {
            TargetPort = target.IoEndPoint.Port,
            SubsystemNqn = Nqn,
            HostNqn = HostNqn,
            IoQueueCount = 2,
            Multipath = NvmeMultipathPolicy.Disabled,
            DhChapSecret = hostSecret.ToInterchange(),
            DhChapControllerSecret = controllerSecret.ToInterchange(),
        };
        await using (var controller = await NvmeController.ConnectAsync(options))
        {
            var ns = await controller.OpenNamespaceAsync(1);
            var block = new byte[4096];
            await ns.WriteAsync(0, block);
            await ns.ReadAsync(0, block);
        }

        var wrong = options with { DhChapSecret = wrongSecret.ToInterchange(), ControllerLossTimeout = TimeSpan.Zero };
        var refused = Assert.ThrowsAsync<NvmeAuthenticationException>(async () => await NvmeController.ConnectAsync(wrong));
        Assert.That(refused!.RejectedByController, Is.True);

        var scrape = await MetricsScrape.FetchAsync(target.MetricsUrl);
        Assert.Multiple(() =>
        {
            Assert.That(scrape.Sum("nvmemptls_authentications_total", "outcome=success"), Is.EqualTo(3), "admin and two I/O queues");
            Assert.That(scrape.Sum("nvmemptls_authentications_total", "outcome=failure", "reason=failed"), Is.EqualTo(1));
        });
    }
}
