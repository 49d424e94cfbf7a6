using System.Globalization;
using System.Text.Json;
using NvmeMptls.IntegrationTests.TestKit;
using NvmeMptls.Target.Configuration;

namespace NvmeMptls.IntegrationTests.Interop;

/// <summary>
/// Our target, the Linux kernel host (Debian 12, kernel 6.1, nvme-cli 2.3): one VM boot runs discovery on both
/// ports, the identify/log/feature commands, discard and write-zeroes, and the queue x digest matrix with
/// O_DIRECT verify; the tests below each assert one part of that boot's report.
/// </summary>
[TestFixture]
[Category("Interop")]
[NonParallelizable]
public sealed class LinuxHostBasicTests
{
    private const string Nqn = "nqn.2026-01.io.nvmemptls:default";
    private const long Ns1Bytes = 64L << 20;
    private const long Ns2Bytes = 32L << 20;
    private TargetRunner? _target;
    private LinuxVmOutput? _vm;

    private LinuxVmOutput Vm => _vm ?? throw new InvalidOperationException("no VM run");

    private TargetRunner Target => _target ?? throw new InvalidOperationException("no target");

    [OneTimeSetUp]
    public async Task BootAsync()
    {
        LinuxVm.IgnoreUnlessAvailable();
        _target = await TargetRunner.StartAsync("--nqn", Nqn, "--memory-ns", "64MiB", "--memory-ns", "32MiB");
        var variables = new Dictionary<string, string>
        {
            ["IOP_PORT"] = Target.Port.ToString(CultureInfo.InvariantCulture),
            ["IOP_DISC_PORT"] = Target.DiscoveryPort.ToString(CultureInfo.InvariantCulture),
            ["IOP_NQN"] = Nqn,
            ["IOP_MATRIX"] = "1:none 1:digest 4:none 4:digest",
            ["IOP_4K_MB"] = "4",
            ["IOP_64K_MB"] = "28",
            ["IOP_1M_MB"] = "32",
            ["IOP_MATRIX_MB"] = "16",
        };

        // 4 vCPUs: the kernel creates min(-i, online CPUs) I/O queues
        _vm = await LinuxVm.RunAsync(variables, ["basic.sh"], Target.Port, harnessOptions: ["--smp", "4"]);
        TestContext.Progress.WriteLine($"basic VM boot: {Vm.Elapsed.TotalSeconds:F0} s, guest rc={Vm.GuestRc}");
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
    public void GuestRanToTheEnd()
    {
        Assert.That(Vm.GuestStarted, Is.True, Vm.Console());
        Assert.That(Vm.GuestRc, Is.Not.Null, "no NVMEVM-GUEST-END marker\n" + Vm.Console());
    }

    [TestCase("discovery")]
    [TestCase("io")]
    public void DiscoverListsTheSubsystem(string via)
    {
        int port = via == "discovery" ? Target.DiscoveryPort : Target.Port;
        Vm.AssertCheck($"discover-{port}");
        using JsonDocument log = JsonDocument.Parse(Vm.Value($"discover.{port}"));
        JsonElement[] entries = log.RootElement.GetProperty("records").EnumerateArray()
            .Where(e => e.GetProperty("subnqn").GetString() == Nqn).ToArray();
        Assert.That(entries, Has.Length.EqualTo(1), log.RootElement.ToString());
        JsonElement entry = entries[0];
        Assert.Multiple(() =>
        {
            Assert.That(entry.GetProperty("trtype").GetString(), Is.EqualTo("tcp"));
            Assert.That(entry.GetProperty("adrfam").GetString(), Is.EqualTo("ipv4"));
            Assert.That(entry.GetProperty("subtype").GetString(), Is.EqualTo("nvme subsystem"));
            Assert.That(entry.GetProperty("traddr").GetString(), Is.EqualTo("127.0.0.1"));
            Assert.That(entry.GetProperty("trsvcid").GetString(), Is.EqualTo(Target.Port.ToString(CultureInfo.InvariantCulture)));
            // --tls none: no secure channel requirement; TSAS sectype none
            Assert.That(entry.GetProperty("treq").GetString(), Does.StartWith("not specified"));
            Assert.That(entry.GetProperty("sectype").GetString(), Is.EqualTo("none"));
        });
    }

    [Test]
    public void BothNamespacesAppearWithSizeAndLbaSize()
    {
        Assert.Multiple(() =>
        {
            Assert.That(long.Parse(Vm.Value("ns1.size"), CultureInfo.InvariantCulture), Is.EqualTo(Ns1Bytes));
            Assert.That(Vm.Value("ns1.lbasize"), Is.EqualTo("512"));
            Assert.That(long.Parse(Vm.Value("ns2.size"), CultureInfo.InvariantCulture), Is.EqualTo(Ns2Bytes));
            Assert.That(Vm.Value("ns2.lbasize"), Is.EqualTo("512"));
        });
    }

    [TestCase(1u, "id-ns", "ns-descs", Ns1Bytes)]
    [TestCase(2u, "id-ns2", "ns-descs2", Ns2Bytes)]
    public void NamespaceIdentifiersAreTheDerivedOnes(uint nsid, string idNs, string descs, long bytes)
    {
        Vm.AssertCheck(idNs);
        Vm.AssertCheck(descs);
        using JsonDocument ns = JsonDocument.Parse(Vm.Value(idNs));
        using JsonDocument list = JsonDocument.Parse(Vm.Value(descs));
        string nguid = NamespaceIdentifiers.FormatNguid(NamespaceIdentifiers.DeriveNguid(Nqn, nsid));
        string uuid = NamespaceIdentifiers.DeriveUuid(Nqn, nsid).ToString();
        JsonElement[] d = list.RootElement.GetProperty("ns-descs").EnumerateArray().ToArray();
        Assert.Multiple(() =>
        {
            Assert.That(ns.RootElement.GetProperty("nsze").GetInt64(), Is.EqualTo(bytes / 512));
            Assert.That(ns.RootElement.GetProperty("nguid").GetString(), Is.EqualTo(nguid));
            Assert.That(d.Where(e => e.GetProperty("type").GetString() == "nguid").Select(e => e.GetProperty("nguid").GetString()), Is.EqualTo(new[] { nguid }));
            Assert.That(d.Where(e => e.GetProperty("type").GetString() == "uuid").Select(e => e.GetProperty("uuid").GetString()), Is.EqualTo(new[] { uuid }));
            Assert.That(d.Where(e => e.GetProperty("type").GetString() == "csi").Select(e => e.GetProperty("csi").GetString()), Is.EqualTo(new[] { "0" }));
        });
    }

    [Test]
    public void IdentifyControllerNamesModelSerialAndSubsystem()
    {
        Vm.AssertCheck("id-ctrl");
        using JsonDocument id = JsonDocument.Parse(Vm.Value("id-ctrl"));
        JsonElement c = id.RootElement;
        Assert.Multiple(() =>
        {
            Assert.That(c.GetProperty("mn").GetString()!.TrimEnd(), Is.EqualTo(SubsystemOptions.Default.Model));
            Assert.That(c.GetProperty("sn").GetString()!.TrimEnd(), Is.EqualTo(NamespaceIdentifiers.DeriveSerial(Nqn)));
            Assert.That(c.GetProperty("subnqn").GetString(), Is.EqualTo(Nqn));
            Assert.That(c.GetProperty("cntrltype").GetInt32(), Is.EqualTo(1));
            Assert.That(c.GetProperty("icdoff").GetInt32(), Is.Zero);
            Assert.That(c.GetProperty("maxcmd").GetInt32(), Is.GreaterThan(0));
            Assert.That(c.GetProperty("sgls").GetInt64() & 3, Is.Not.Zero);
            Assert.That(c.GetProperty("nn").GetInt64(), Is.GreaterThanOrEqualTo(2));
        });
    }

    [Test]
    public void SmartAndErrorLogsAnswer()
    {
        Vm.AssertCheck("smart-log");
        Vm.AssertCheck("error-log");
        using JsonDocument smart = JsonDocument.Parse(Vm.Value("smart-log"));
        using JsonDocument errors = JsonDocument.Parse(Vm.Value("error-log"));
        Assert.Multiple(() =>
        {
            Assert.That(smart.RootElement.GetProperty("critical_warning").GetInt32(), Is.Zero);
            Assert.That(smart.RootElement.GetProperty("temperature").GetInt32(), Is.InRange(273, 373), "Kelvin");
            Assert.That(smart.RootElement.GetProperty("avail_spare").GetInt32(), Is.InRange(0, 100));
            Assert.That(errors.RootElement.GetProperty("errors").GetArrayLength(), Is.EqualTo(4), "nvme error-log -e 4");
        });
    }

    /// <summary>Kernel 6.1 bring-up asks Identify CNS 06h (NVM controller data) of a 1.3 controller; no error-log entry may result.</summary>
    [Test]
    public void BringUpLeavesTheErrorLogEmpty()
    {
        using JsonDocument errors = JsonDocument.Parse(Vm.Value("error-log.after-connect"));
        Assert.That(errors.RootElement.GetProperty("errors")[0].GetProperty("error_count").GetInt64(), Is.Zero, errors.RootElement.ToString());
    }

    [Test]
    public void FeaturesAnswer()
    {
        Assert.Multiple(() =>
        {
            // after "nvme connect -i 1": at least one I/O queue pair granted (0's based NSQA/NCQA)
            uint queues = Feature("7");
            Assert.That(queues & 0xFFFF, Is.LessThan(0xFFFFu), "NSQA");
            Assert.That(queues >> 16, Is.LessThan(0xFFFFu), "NCQA");
            Assert.That(Feature("0x0b") & 0x100, Is.EqualTo(0x100u), "namespace attribute notices enabled by the host");
            Assert.That(Feature("0x0f"), Is.EqualTo(5000u), "KATO: the kernel's default 5 s in ms");
        });
    }

    [Test]
    public void DiscardAndWriteZeroesReadBackZeroes()
    {
        Assert.Multiple(() =>
        {
            foreach (string check in new[] { "discard", "discard-reads-zero", "discard-keeps-neighbours", "write-zeroes", "write-zeroes-reads-zero", "write-zeroes-keeps-neighbours" })
            {
                Vm.AssertCheck(check);
            }
        });
    }

    [TestCase("4k")]
    [TestCase("64k")]
    [TestCase("1M")]
    public void DirectIoVerifiesAtBlockSize(string blockSize) => Vm.AssertCheck($"io-q1-none-{blockSize}");

    [TestCase(1, "none")]
    [TestCase(1, "digest")]
    [TestCase(4, "none")]
    [TestCase(4, "digest")]
    public void ConnectVerifyDisconnect(int queues, string digests)
    {
        string tag = $"q{queues}-{digests}";
        Vm.AssertCheck($"connect-{tag}");
        Assert.That(Vm.Value($"queues.{tag}"), Is.EqualTo(queues.ToString(CultureInfo.InvariantCulture)), "I/O queues the kernel created");
        Vm.AssertCheck($"io-{tag}-1M");
        Vm.AssertCheck($"disconnect-{tag}");
    }

    [Test]
    public void DisconnectsAreCleanOnTheTargetSide()
    {
        Assert.That(Vm.GuestRc, Is.Not.Null, Vm.Console());
        string[] closed = Target.Log.Split('\n').Where(l => l.Contains(Nqn + " for ", StringComparison.Ordinal) && l.Contains(" closed", StringComparison.Ordinal)).ToArray();
        Assert.Multiple(() =>
        {
            Assert.That(closed, Has.Length.EqualTo(4), "one 'controller ... closed' line per nvme disconnect\n" + Target.Log);
            Assert.That(Target.ProblemLines(), Is.Empty, "warnings/errors in the target log");
        });
    }

    private uint Feature(string fid)
    {
        Vm.AssertCheck($"get-feature-{fid}");
        string line = Vm.Value($"feature.{fid}");
        string hex = line[(line.LastIndexOf(':') + 1)..].Trim();
        hex = hex.StartsWith("0x", StringComparison.OrdinalIgnoreCase) ? hex[2..] : hex;
        return uint.Parse(hex, NumberStyles.HexNumber, CultureInfo.InvariantCulture);
    }
}
