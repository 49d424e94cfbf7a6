using System.Diagnostics;
using System.Globalization;
using NvmeMptls.IntegrationTests.TestKit;

namespace NvmeMptls.IntegrationTests.Rbd;

/// <summary>
/// The Linux kernel host (Debian 13 guest, native NVMe multipath) against a gateway group: two of our target processes
/// on one RBD image of the test cluster (<see cref="GatewayGroupKit"/>), gw1 owning the ANA group. While a verifying
/// loop runs through the multipath device (guest/gateway.sh): gw1 is killed with SIGKILL, gw2 takes the lease over,
/// fences gw1 and turns optimized, and the host moves its I/O there; gw1 restarts and rejoins as standby; a planned
/// move (the owner's control endpoint) gives the group back. The application sees no error and no mismatch.
/// Prints the timeline in ms.
/// </summary>
[TestFixture]
[Category("Interop")]
[NonParallelizable]
public sealed class GatewayLinuxHostTests
{
    private GatewayGroupKit? _kit;
    private LinuxVmOutput? _vm;
    private readonly Stopwatch _clock = new();
    private long _killedAt = -1;
    private long _fencedSeenAt = -1;

    private LinuxVmOutput Vm => _vm ?? throw new InvalidOperationException("no VM run");

    private GatewayGroupKit Kit => _kit ?? throw new InvalidOperationException("no gateway group");

    [OneTimeSetUp]
    public async Task RunAsync()
    {
        LinuxVm.IgnoreUnlessAvailable();
        var cluster = RbdClusterFixture.Require();
        _kit = GatewayGroupKit.Create(cluster, $"gwlinux{Environment.ProcessId.ToString(CultureInfo.InvariantCulture)}");
        await Kit.StartAsync("gw1");
        await Kit.WaitRoleAsync("gw1", "owner");
        await Kit.StartAsync("gw2");
        await Kit.WaitRoleAsync("gw2", "standby");
        var variables = new Dictionary<string, string>
        {
            ["IOP_PORT"] = Kit.Ports["gw1"].ToString(CultureInfo.InvariantCulture),
            ["IOP_PORT2"] = Kit.Ports["gw2"].ToString(CultureInfo.InvariantCulture),
            ["IOP_NQN"] = GatewayGroupKit.Nqn,
            ["IOP_MB"] = "8",
        };
        _clock.Start();
        _vm = await LinuxVm.RunAsync(variables, ["ana-paths.sh", "gateway.sh"], Kit.Ports["gw1"], OnSyncAsync, harnessOptions: ["--suite", "trixie"], timeoutSeconds: 600);
        TestContext.Progress.WriteLine($"gateway VM: {Vm.Elapsed.TotalSeconds:F0} s, guest rc={Vm.GuestRc}");
    }

    [OneTimeTearDown]
    public async Task StopAsync()
    {
        if (_kit is not null)
        {
            foreach (var name in new[] { "gw1", "gw2" })
            {
                try
                {
                    TestContext.Progress.WriteLine($"{name} log (tail):\n" + Tail(Kit.Process(name).StandardOutput, 40));
                }
                catch (KeyNotFoundException)
                {
                    // never started
                }
            }

            await _kit.DisposeAsync();
        }
    }

    [Test]
    public void HostSeesTheOwnerOptimized_AndTheStandbyInaccessible()
    {
        Vm.AssertCheck("connect1");
        Vm.AssertCheck("connect2");
        Assert.Multiple(() =>
        {
            Assert.That(Vm.Value("multipath.param"), Is.EqualTo("Y"), "nvme_core.multipath");
            Assert.That(Vm.Value("before.gw1"), Is.EqualTo("optimized"));
            Assert.That(Vm.Value("before.gw2"), Is.EqualTo("inaccessible"));
        });
        Vm.AssertCheck("keep-write");
        Vm.AssertCheck("io-before");
    }

    [Test]
    public void OwnerKilled_HostMovesToTheTakerWithinTheLease_WithoutIoErrors()
    {
        Vm.AssertCheck("kill-sync");
        Vm.AssertCheck("takeover");
        Vm.AssertCheck("io-after-kill");
        var anaMs = int.Parse(Vm.Value("kill.ana.ms"), CultureInfo.InvariantCulture);
        var resumeMs = int.Parse(Vm.Value("kill.resume.ms"), CultureInfo.InvariantCulture);
        TestContext.Progress.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"Linux host, gateway failover (SIGKILL of the owner, lease {GatewayGroupKit.Lease.TotalSeconds} s): kill -> gw2 optimized on the host {anaMs} ms -> I/O rounds completing through gw2 by {resumeMs} ms; "
            + $"gw2 reported fencing gw1 {(_fencedSeenAt < 0 ? "(not seen)" : $"{_fencedSeenAt - _killedAt} ms")} after the kill"));
        Assert.Multiple(() =>
        {
            Assert.That(Vm.Value("loop.failures"), Is.EqualTo("0"), "write/read/compare failures of the loop across kill, restart and move");
            Assert.That(Vm.Value("kernel.io-errors"), Is.EqualTo("0"), "block layer I/O errors");
            Assert.That(Kit.Process("gw2").StandardOutput, Does.Contain("fenced the previous owner gw1"), "gw2 fenced the killed owner before serving");
        });
    }

    [Test]
    public void KilledGatewayRejoinsAsStandby_AndAPlannedMoveBringsTheGroupBack()
    {
        Vm.AssertCheck("restart-sync");
        Vm.AssertCheck("rejoined");
        Vm.AssertCheck("move-sync");
        Vm.AssertCheck("moved-back");
        Vm.AssertCheck("io-after-move");
        Vm.AssertCheck("keep-after");
        Vm.AssertCheck("disconnect");
        TestContext.Progress.WriteLine($"Linux host, planned move back to gw1: host saw gw1 optimized {Vm.Value("move.ana.ms")} ms after the move returned; {Vm.Value("loop.rounds")} verified loop rounds in all");
        Assert.That(Vm.Value("loop.failures"), Is.EqualTo("0"));
    }

    private async Task OnSyncAsync(string request)
    {
        switch (request)
        {
            case "kill":
                _killedAt = _clock.ElapsedMilliseconds;
                using (var gw1 = Process.GetProcessById(Kit.Process("gw1").Id))
                {
                    gw1.Kill(); // SIGKILL
                }

                _ = WatchFencingAsync();
                break;
            case "restart":
                await Kit.StartAsync("gw1");
                await Kit.WaitRoleAsync("gw1", "standby");
                break;
            case "move":
                var (status, body) = await Kit.PostAsync("gw2", $"move?group={GatewayGroupKit.AnaGroup}&to=gw1");
                if (status != 200)
                {
                    throw new InvalidOperationException($"planned move refused: {status} {body}");
                }

                await Kit.WaitRoleAsync("gw1", "owner");
                break;
            default:
                throw new ArgumentException($"unknown sync request '{request}'", nameof(request));
        }
    }

    /// <summary>When gw2's log first says it fenced gw1 (for the timeline).</summary>
    private async Task WatchFencingAsync()
    {
        while (_clock.ElapsedMilliseconds - _killedAt < 120_000)
        {
            if (Kit.Process("gw2").StandardOutput.Contains("fenced the previous owner gw1", StringComparison.Ordinal))
            {
                _fencedSeenAt = _clock.ElapsedMilliseconds;
                return;
            }

            await Task.Delay(20);
        }
    }

    private static string Tail(string text, int lines)
    {
        var all = text.Split('\n');
        return string.Join('\n', all.Skip(Math.Max(0, all.Length - lines)));
    }
}
