using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using NvmeMptls.IntegrationTests.TestKit;

namespace NvmeMptls.IntegrationTests.Interop;

/// <summary>
/// Our target, the Linux kernel host: keep-alive over an idle minute, a target restart (kill, start again on the
/// same ports, FILE namespace) that the host rides out by reconnecting, and a namespace added to the target's
/// --config file while the host is connected. One VM boot; the guest asks the test to restart the target and to
/// edit the configuration through the sync port.
/// </summary>
[TestFixture]
[Category("Interop")]
[NonParallelizable]
public sealed class LinuxHostResilienceTests
{
    private const string Nqn = "nqn.2026-01.io.nvmemptls:resilience";
    private const int IdleSeconds = 65;
    private TargetRunner? _target;
    private LinuxVmOutput? _vm;
    private string? _dir;
    private string? _config;

    private LinuxVmOutput Vm => _vm ?? throw new InvalidOperationException("no VM run");

    private TargetRunner Target => _target ?? throw new InvalidOperationException("no target");

    [OneTimeSetUp]
    public async Task BootAsync()
    {
        LinuxVm.IgnoreUnlessAvailable();
        _dir = Directory.CreateTempSubdirectory("nvme-iop-resilience.").FullName;
        _config = Path.Combine(_dir, "target.json");
        await File.WriteAllTextAsync(_config, Config(withSecondNamespace: false));
        _target = await TargetRunner.StartAsync("--config", _config);
        var variables = new Dictionary<string, string>
        {
            ["IOP_PORT"] = Target.Port.ToString(CultureInfo.InvariantCulture),
            ["IOP_NQN"] = Nqn,
            ["IOP_IDLE_S"] = IdleSeconds.ToString(CultureInfo.InvariantCulture),
            ["IOP_MB"] = "8",
        };
        _vm = await LinuxVm.RunAsync(variables, ["resilience.sh"], Target.Port, OnSyncAsync);
        TestContext.Progress.WriteLine($"resilience VM boot: {Vm.Elapsed.TotalSeconds:F0} s, guest rc={Vm.GuestRc}");
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
    public void KeepAliveHoldsOverAnIdleMinute()
    {
        Vm.AssertCheck("connect");
        Vm.AssertCheck("write-before");
        Assert.Multiple(() =>
        {
            Assert.That(Vm.Value("idle.state"), Is.EqualTo("live"), $"controller state after {IdleSeconds} s idle");
            Assert.That(Vm.Value("idle.resets"), Is.EqualTo("0"), "keep-alive failures, resets or reconnects while idle");
            Vm.AssertCheck("idle-io");
        });
    }

    [Test]
    public void TargetRestartIsRiddenOutByReconnect()
    {
        Vm.AssertCheck("restart-sync");
        Assert.That(Target.Starts, Is.EqualTo(2), "the test restarted the target once");
        Vm.AssertCheck("reconnected");
        Vm.AssertCheck("restart-data-survives");
        Vm.AssertCheck("restart-io");
    }

    [Test]
    public void NamespaceAddedWhileConnectedAppears()
    {
        Vm.AssertCheck("add-ns-sync");
        Assert.That(Vm.Checks.TryGetValue("ns-added", out GuestCheck? added), Is.True, Vm.Console());
        Assert.That(added!.Passed, Is.True,
            "namespace 2, added to the --config file while the host was connected, did not appear on the host. "
            + "This needs the target's live configuration reload (the target reloads --config on change, adds the "
            + "namespace and sends a changed-namespace AEN), which is not in this tree yet.\n" + Vm.Console(40));
        Assert.That(long.Parse(Vm.Value("ns2.size"), CultureInfo.InvariantCulture), Is.EqualTo(32L << 20));
        Vm.AssertCheck("disconnect");
    }

    private async Task OnSyncAsync(string request)
    {
        switch (request)
        {
            case "restart":
                await Target.RestartAsync();
                break;
            case "add-ns":
                // in place, as an operator's editor would: the target watches this file
                await File.WriteAllTextAsync(_config!, Config(withSecondNamespace: true));
                break;
            default:
                throw new ArgumentException($"unknown sync request '{request}'", nameof(request));
        }
    }

    private string Config(bool withSecondNamespace)
    {
        var namespaces = new JsonArray
        {
            new JsonObject { ["Nsid"] = 1, ["Backing"] = "file", ["Path"] = Path.Combine(_dir!, "ns1.img"), ["Size"] = "64MiB", ["LbaSize"] = 512 },
        };
        if (withSecondNamespace)
        {
            namespaces.Add(new JsonObject { ["Nsid"] = 2, ["Backing"] = "memory", ["Size"] = "32MiB", ["LbaSize"] = 512 });
        }

        var root = new JsonObject
        {
            ["Target"] = new JsonObject
            {
                ["Subsystems"] = new JsonArray
                {
                    new JsonObject { ["Nqn"] = Nqn, ["AllowAnyHost"] = true, ["Namespaces"] = namespaces },
                },
            },
        };
        return root.ToJsonString(new JsonSerializerOptions { WriteIndented = true });
    }
}
