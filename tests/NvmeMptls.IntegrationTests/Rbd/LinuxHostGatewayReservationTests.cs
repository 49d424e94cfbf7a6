using System.Globalization;
using System.Net;
using NvmeMptls.IntegrationTests.Interop;
using NvmeMptls.IntegrationTests.TestKit;

namespace NvmeMptls.IntegrationTests.Rbd;

/// <summary>
/// The Linux host's `nvme resv-*` against one of two gateway processes serving the same RBD image, the test's raw host
/// as the peer on the other gateway (the guest script of <see cref="Interop.LinuxHostReservationTests"/>, resv.sh):
/// the Linux host registers and takes Write Exclusive through gateway 1; the peer's write through gateway 2 is refused;
/// the peer preempts the Linux host's key through gateway 2, and the Linux host's next write through gateway 1 gets
/// Reservation Conflict and its controller on gateway 1 has the Registration Preempted notice in log 80h.
/// </summary>
[TestFixture]
[Category("Interop")]
[NonParallelizable]
public sealed class LinuxHostGatewayReservationTests
{
    private const string Nqn = "nqn.2026-01.io.nvmemptls:resvgwvm";
    private readonly List<TargetRunner> _gateways = [];
    private LinuxVmOutput? _vm;
    private readonly ReservationPeer _peer = new();

    private LinuxVmOutput Vm => _vm ?? throw new InvalidOperationException("no VM run");

    [OneTimeSetUp]
    public async Task BootAsync()
    {
        LinuxVm.IgnoreUnlessAvailable();
        var cluster = RbdClusterFixture.Require();
        cluster.CreateImage("prvm", "64M");
        foreach (var _ in new[] { 1, 2 })
        {
            _gateways.Add(await TargetRunner.StartAsync("--nqn", Nqn, "--rbd-ns", "rbd/prvm", "--ceph-conf", cluster.CephConf));
        }

        var variables = new Dictionary<string, string>
        {
            ["IOP_PORT"] = _gateways[0].Port.ToString(CultureInfo.InvariantCulture),
            ["IOP_NQN"] = Nqn,
        };
        _vm = await LinuxVm.RunAsync(variables, ["resv.sh"], _gateways[0].Port, OnSyncAsync, harnessOptions: ["--suite", "trixie"]);
        TestContext.Progress.WriteLine($"reservation VM (two gateways): {Vm.Elapsed.TotalSeconds:F0} s, guest rc={Vm.GuestRc}");
    }

    [OneTimeTearDown]
    public void StopGateways()
    {
        foreach (var g in _gateways)
        {
            TestContext.Progress.WriteLine("gateway log problems:\n" + string.Join('\n', g.ProblemLines()));
            g.Dispose();
        }
    }

    [Test]
    public void LinuxHostAcquiresOnGateway1_ThePeerIsRefusedWritesOnGateway2() => _peer.AssertLinuxHostHolds(Vm, " on gateway 2");

    [Test]
    public void PeerPreemptsOnGateway2_LinuxHostOnGateway1LosesWritesAndGetsTheNotice() => _peer.AssertPeerPreempted(Vm, " on gateway 2", " on gateway 1");

    private async Task OnSyncAsync(string request)
    {
        if (request != "peer")
        {
            throw new ArgumentException($"unknown sync request '{request}'", nameof(request));
        }

        await _peer.RunAsync(new IPEndPoint(IPAddress.Loopback, _gateways[1].Port), Nqn);
    }
}
