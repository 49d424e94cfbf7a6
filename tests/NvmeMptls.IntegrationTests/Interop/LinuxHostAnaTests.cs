using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using NvmeMptls.IntegrationTests.TestKit;

namespace NvmeMptls.IntegrationTests.Interop;

/// <summary>
/// Our target with two ports and ANA, the Linux kernel host (Debian 13 guest, native NVMe multipath): the host
/// sees one namespace over two paths, optimized on one port and inaccessible on the other (sysfs, nvme list-subsys,
/// nvme ana-log); then the test swaps the ports' states in the target's configuration file while a verifying loop
/// runs through the multipath device, and the host follows the ANA Change notice without one I/O error.
/// </summary>
[TestFixture]
[Category("Interop")]
[NonParallelizable]
public sealed class LinuxHostAnaTests
{
    private const string Nqn = "nqn.2026-01.io.nvmemptls:ana";
    private TargetRunner? _target;
    private LinuxVmOutput? _vm;
    private string? _dir;
    private string? _config;
    private int _port2;
    private DateTime _swappedAt;

    private LinuxVmOutput Vm => _vm ?? throw new InvalidOperationException("no VM run");

    private TargetRunner Target => _target ?? throw new InvalidOperationException("no target");

    [OneTimeSetUp]
    public async Task BootAsync()
    {
        LinuxVm.IgnoreUnlessAvailable();
        _dir = Directory.CreateTempSubdirectory("nvme-iop-ana.").FullName;
        _config = Path.Combine(_dir, "target.json");
        _port2 = TargetProcess.FreePort();
        await File.WriteAllTextAsync(_config, Config(swapped: false));
        _target = await TargetRunner.StartAsync("--config", _config);
        var variables = new Dictionary<string, string>
        {
            ["IOP_PORT"] = Target.Port.ToString(CultureInfo.InvariantCulture),
            ["IOP_PORT2"] = _port2.ToString(CultureInfo.InvariantCulture),
            ["IOP_NQN"] = Nqn,
            ["IOP_MB"] = "8",
        };
        _vm = await LinuxVm.RunAsync(variables, ["ana-paths.sh", "ana.sh"], Target.Port, OnSyncAsync, harnessOptions: ["--suite", "trixie"]);
        TestContext.Progress.WriteLine($"ANA VM boot: {Vm.Elapsed.TotalSeconds:F0} s, guest rc={Vm.GuestRc}");
    }

    [OneTimeTearDown]
    public void StopTarget()
    {
        if (_target is not null)
        {
            TestContext.Progress.WriteLine("target log:\n" + _target.Log);
        }

        _target?.Dispose();
        if (_dir is not null)
        {
            Directory.Delete(_dir, recursive: true);
        }
    }

    [Test]
    public void HostSeesTwoPaths_OneOptimizedOneInaccessible()
    {
        Vm.AssertCheck("connect1");
        Vm.AssertCheck("connect2");
        Assert.Multiple(() =>
        {
            Assert.That(Vm.Value("multipath.param"), Is.EqualTo("Y"), "nvme_core.multipath");
            Assert.That(Vm.Value("paths.count"), Is.EqualTo("2"), "paths under the multipath head");
            Assert.That(Vm.Value("before.port1"), Is.EqualTo("optimized"));
            Assert.That(Vm.Value("before.port2"), Is.EqualTo("inaccessible"));
            Assert.That(Vm.Value("ns.anagrpid"), Is.EqualTo("1"));
            Assert.That(Vm.Value("list-subsys.optimized"), Is.EqualTo("1"), "nvme list-subsys: one 'live optimized' path");
            Assert.That(Vm.Value("list-subsys.inaccessible"), Is.EqualTo("1"), "nvme list-subsys: one 'live inaccessible' path");
        });
        Vm.AssertCheck($"ana-log.{Target.Port}");
        Vm.AssertCheck($"ana-log.{_port2}");
        Assert.Multiple(() =>
        {
            Assert.That(Vm.Value($"ana-log.{Target.Port}.state"), Is.EqualTo("optimized"), "nvme ana-log through port 1's controller");
            Assert.That(Vm.Value($"ana-log.{_port2}.state"), Is.EqualTo("inaccessible"), "nvme ana-log through port 2's controller");
            Assert.That(Vm.Value($"ana-log.{Target.Port}.groups"), Is.EqualTo("1"), "one ANA group descriptor");
        });
        Vm.AssertCheck("io-before");
    }

    [Test]
    public void PlannedMove_HostFollowsTheAnaChange_WithoutIoErrors()
    {
        Vm.AssertCheck("swap-sync");
        Vm.AssertCheck("swapped");
        TestContext.Progress.WriteLine($"planned move: config written at {_swappedAt:HH:mm:ss.fff}, host saw the new states {Vm.Value("swap.ms")} ms after asking");
        Assert.Multiple(() =>
        {
            Assert.That(int.Parse(Vm.Value("loop.rounds"), CultureInfo.InvariantCulture), Is.GreaterThan(0), "verify loop rounds");
            Assert.That(Vm.Value("loop.failures"), Is.EqualTo("0"), "write/read/compare failures of the loop across the move");
            Assert.That(Vm.Value("kernel.io-errors"), Is.EqualTo("0"), "block layer I/O errors");
        });
        Vm.AssertCheck("keep-after-move");
        Vm.AssertCheck("io-after");
        Vm.AssertCheck("disconnect");
        Assert.That(Target.ProblemLines(), Is.Empty, "target warnings");
    }

    private async Task OnSyncAsync(string request)
    {
        switch (request)
        {
            case "swap":
                await File.WriteAllTextAsync(_config!, Config(swapped: true));
                _swappedAt = DateTime.UtcNow;
                break;
            default:
                throw new ArgumentException($"unknown sync request '{request}'", nameof(request));
        }
    }

    /// <summary>Port 1 (its address and port come from --listen) and port 2; group 1 optimized on one, inaccessible on the other.</summary>
    private string Config(bool swapped)
    {
        JsonObject States(bool optimized) => new() { ["1"] = optimized ? "optimized" : "inaccessible" };
        var root = new JsonObject
        {
            ["Target"] = new JsonObject
            {
                ["Subsystems"] = new JsonArray
                {
                    new JsonObject
                    {
                        ["Nqn"] = Nqn,
                        ["AllowAnyHost"] = true,
                        ["Namespaces"] = new JsonArray { new JsonObject { ["Nsid"] = 1, ["Backing"] = "memory", ["Size"] = "64MiB" } },
                    },
                },
                ["Ports"] = new JsonArray
                {
                    new JsonObject { ["Id"] = 1, ["Address"] = "127.0.0.1", ["Port"] = 4420, ["AnaStates"] = States(!swapped) },
                    new JsonObject { ["Id"] = 2, ["Address"] = "127.0.0.1", ["Port"] = _port2, ["AnaStates"] = States(swapped) },
                },
            },
        };
        return root.ToJsonString(new JsonSerializerOptions { WriteIndented = true });
    }
}
