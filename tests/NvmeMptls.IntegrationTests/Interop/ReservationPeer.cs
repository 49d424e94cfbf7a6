using System.Net;
using NvmeMptls.IntegrationTests.TestKit;
using NvmeMptls.TestKit;
using NvmeMptls.Transport.Nvme;

namespace NvmeMptls.IntegrationTests.Interop;

/// <summary>
/// The other host of the reservation guest script (resv.sh), played by the test's raw host when the guest asks
/// ("peer"): a write under the Linux host's Write Exclusive, register key 0xBBBB, preempt the Linux host's 0xAAAA,
/// write as the new holder, Reservation Report. Then the assertions both reservation fixtures make of the two hosts;
/// <c>where</c> names the peer's and the Linux host's gateway when they differ ("" on one target).
/// </summary>
internal sealed class ReservationPeer
{
    public NvmeStatus? WriteBefore { get; private set; }

    public NvmeStatus? Preempt { get; private set; }

    public NvmeStatus? WriteAfter { get; private set; }

    public ReservationReport? Report { get; private set; }

    public async Task RunAsync(IPEndPoint endPoint, string nqn)
    {
        await using var admin = await RawNvmeHost.OpenAsync(endPoint, nqn, 0);
        Assert.That((await admin.SetFeatureAsync(FeatureIds.NumberOfQueues, 0)).Status.IsSuccess, Is.True);
        await using var io = await RawNvmeHost.OpenAsync(endPoint, nqn, 1, admin.ControllerId);
        WriteBefore = (await io.WriteAsync(1, 8, new byte[512])).Status;
        var keys = new byte[16];
        ReservationCommand.WriteKeys(keys, 0, 0xBBBB);
        var register = await io.ExecuteAsync(io.Command(IoOpcodes.ReservationRegister, 1, cdw10: new ReservationCommand(0, false, ReservationType.None, 0).ToCdw10(), length: 16), keys, null);
        Assert.That(register.Status.IsSuccess, Is.True, register.Status.ToString());
        ReservationCommand.WriteKeys(keys, 0xBBBB, 0xAAAA);
        var preempt = await io.ExecuteAsync(io.Command(IoOpcodes.ReservationAcquire, 1, cdw10: new ReservationCommand(ReservationCommand.PreemptAction, false, ReservationType.WriteExclusive, 0).ToCdw10(), length: 16), keys, null);
        Preempt = preempt.Status;
        WriteAfter = (await io.WriteAsync(1, 8, new byte[512])).Status;
        var buffer = new byte[4096];
        await io.ExecuteAsync(io.Command(IoOpcodes.ReservationReport, 1, cdw10: 1023, cdw11: 1, length: 4096), default, buffer);
        Report = ReservationReport.Read(buffer);
    }

    /// <summary>The Linux host registered and holds Write Exclusive; the peer's write was refused.</summary>
    public void AssertLinuxHostHolds(LinuxVmOutput vm, string peerWhere)
    {
        vm.AssertCheck("register");
        vm.AssertCheck("acquire");
        vm.AssertCheck("write-as-holder");
        Assert.That(vm.Value("report1"), Does.Contain("\"rtype\":1").And.Contain("\"regctl\":1"), "nvme resv-report --eds after acquire");
        Assert.That(WriteBefore, Is.EqualTo(NvmeStatus.Make(0, 0x83, dnr: true)), $"the peer's write{peerWhere} under the Linux host's Write Exclusive");
    }

    /// <summary>The peer preempted: it holds and writes, the Linux host is refused writes, keeps reads and has the notice.</summary>
    public void AssertPeerPreempted(LinuxVmOutput vm, string peerWhere, string hostWhere)
    {
        vm.AssertCheck("peer-sync");
        Assert.Multiple(() =>
        {
            Assert.That(Preempt, Is.EqualTo(NvmeStatus.Success), $"preempt of key 0xAAAA{peerWhere}");
            Assert.That(WriteAfter, Is.EqualTo(NvmeStatus.Success), "the peer writes as the new holder");
            Assert.That(Report!.Registrants.Select(r => r.Key), Is.EqualTo(new[] { 0xBBBBUL }), "only the peer is registered");
        });
        vm.AssertCheck("write-refused");
        vm.AssertCheck("read-still");
        Assert.That(vm.Value("report2"), Does.Contain("\"rtype\":1").And.Contain("\"regctl\":1"));
        Assert.That(vm.Value("log80"), Does.StartWith("01 00 00 00 00 00 00 00 01"), $"log 80h{hostWhere}: count 1, Registration Preempted");
        vm.AssertCheck("register-again");
        vm.AssertCheck("disconnect");
    }
}
