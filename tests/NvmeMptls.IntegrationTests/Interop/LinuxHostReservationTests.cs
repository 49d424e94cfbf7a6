using System.Globalization;
using System.Net;
using NvmeMptls.IntegrationTests.TestKit;

namespace NvmeMptls.IntegrationTests.Interop;

/// <summary>
/// Persistent reservations between two hosts of our target: the Linux kernel host (Debian 13 guest, nvme resv-*)
/// registers and takes Write Exclusive; the test's raw host, as the other host, is refused writes, preempts the Linux
/// host's key, and the Linux host then gets Reservation Conflict on writes, keeps reads and reads the notice in log 80h.
/// </summary>
[TestFixture]
[Category("Interop")]
[NonParallelizable]
public sealed class LinuxHostReservationTests
{
    private const string Nqn = "nqn.2026-01.io.nvmemptls:resv";
    private TargetRunner? _target;
    private LinuxVmOutput? _vm;
    private readonly ReservationPeer _peer = new();

    private LinuxVmOutput Vm => _vm ?? throw new InvalidOperationException("no VM run");

    private TargetRunner Target => _target ?? throw new InvalidOperationException("no target");

    [OneTimeSetUp]
    public async Task BootAsync()
    {
        LinuxVm.IgnoreUnlessAvailable();
        _target = await TargetRunner.StartAsync("--nqn", Nqn, "--memory-ns", "64MiB");
        var variables = new Dictionary<string, string>
        {
            ["IOP_PORT"] = Target.Port.ToString(CultureInfo.InvariantCulture),
            ["IOP_NQN"] = Nqn,
        };
        _vm = await LinuxVm.RunAsync(variables, ["resv.sh"], Target.Port, OnSyncAsync, harnessOptions: ["--suite", "trixie"]);
        TestContext.Progress.WriteLine($"reservation VM boot: {Vm.Elapsed.TotalSeconds:F0} s, guest rc={Vm.GuestRc}");
    }

    [OneTimeTearDown]
    public void StopTarget()
    {
        if (_target is not null)
        {
            TestContext.Progress.WriteLine("target log:\n" + _target.Log);
        }

        _target?.Dispose();
    }

    [Test]
    public void LinuxHostRegistersAndAcquires_ThePeerIsRefusedWrites() => _peer.AssertLinuxHostHolds(Vm, "");

    [Test]
    public void PeerPreempts_LinuxHostLosesWritesKeepsReadsAndGetsTheNotice() => _peer.AssertPeerPreempted(Vm, "", "");

    private async Task OnSyncAsync(string request)
    {
        if (request != "peer")
        {
            throw new ArgumentException($"unknown sync request '{request}'", nameof(request));
        }

        await _peer.RunAsync(new IPEndPoint(IPAddress.Loopback, Target.Port), Nqn);
    }
}
