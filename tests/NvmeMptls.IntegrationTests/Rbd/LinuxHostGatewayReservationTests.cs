using System.Globalization;
using System.Net;
using NvmeMptls.IntegrationTests.TestKit;
using NvmeMptls.TestKit;
using NvmeMptls.Transport.Nvme;

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
    private NvmeStatus? _peerWriteBefore;
    private NvmeStatus? _peerPreempt;
    private NvmeStatus? _peerWriteAfter;
    private ReservationReport? _peerReport;

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
    public void LinuxHostAcquiresOnGateway1_ThePeerIsRefusedWritesOnGateway2()
    {
        Vm.AssertCheck("register");
        Vm.AssertCheck("acquire");
        Vm.AssertCheck("write-as-holder");
        Assert.That(Vm.Value("report1"), Does.Contain("\"rtype\":1").And.Contain("\"regctl\":1"), "nvme resv-report --eds after acquire");
        Assert.That(_peerWriteBefore, Is.EqualTo(NvmeStatus.Make(0, 0x83, dnr: true)), "the peer's write on gateway 2 under the Linux host's Write Exclusive");
    }

    [Test]
    public void PeerPreemptsOnGateway2_LinuxHostOnGateway1LosesWritesAndGetsTheNotice()
    {
        Vm.AssertCheck("peer-sync");
        Assert.Multiple(() =>
        {
            Assert.That(_peerPreempt, Is.EqualTo(NvmeStatus.Success), "preempt of key 0xAAAA on gateway 2");
            Assert.That(_peerWriteAfter, Is.EqualTo(NvmeStatus.Success), "the peer writes as the new holder");
            Assert.That(_peerReport!.Registrants.Select(r => r.Key), Is.EqualTo(new[] { 0xBBBBUL }), "only the peer is registered");
        });
        Vm.AssertCheck("write-refused");
        Vm.AssertCheck("read-still");
        Assert.That(Vm.Value("report2"), Does.Contain("\"rtype\":1").And.Contain("\"regctl\":1"));
        Assert.That(Vm.Value("log80"), Does.StartWith("01 00 00 00 00 00 00 00 01"), "log 80h on gateway 1: count 1, Registration Preempted");
        Vm.AssertCheck("register-again");
        Vm.AssertCheck("disconnect");
    }

    private async Task OnSyncAsync(string request)
    {
        if (request != "peer")
        {
            throw new ArgumentException($"unknown sync request '{request}'", nameof(request));
        }

        var endPoint = new IPEndPoint(IPAddress.Loopback, _gateways[1].Port);
        await using var admin = await RawNvmeHost.OpenAsync(endPoint, Nqn, 0);
        Assert.That((await admin.SetFeatureAsync(FeatureIds.NumberOfQueues, 0)).Status.IsSuccess, Is.True);
        await using var io = await RawNvmeHost.OpenAsync(endPoint, Nqn, 1, admin.ControllerId);
        _peerWriteBefore = (await io.WriteAsync(1, 8, new byte[512])).Status;
        var keys = new byte[16];
        ReservationCommand.WriteKeys(keys, 0, 0xBBBB);
        var register = await io.ExecuteAsync(io.Command(IoOpcodes.ReservationRegister, 1, cdw10: new ReservationCommand(0, false, ReservationType.None, 0).ToCdw10(), length: 16), keys, null);
        Assert.That(register.Status.IsSuccess, Is.True, register.Status.ToString());
        ReservationCommand.WriteKeys(keys, 0xBBBB, 0xAAAA);
        var preempt = await io.ExecuteAsync(io.Command(IoOpcodes.ReservationAcquire, 1, cdw10: new ReservationCommand(ReservationCommand.PreemptAction, false, ReservationType.WriteExclusive, 0).ToCdw10(), length: 16), keys, null);
        _peerPreempt = preempt.Status;
        _peerWriteAfter = (await io.WriteAsync(1, 8, new byte[512])).Status;
        var buffer = new byte[4096];
        await io.ExecuteAsync(io.Command(IoOpcodes.ReservationReport, 1, cdw10: 1023, cdw11: 1, length: 4096), default, buffer);
        _peerReport = ReservationReport.Read(buffer);
    }
}
