using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json;
using NvmeMptls.IntegrationTests.TestKit;
using NvmeMptls.Transport.Nvme;

namespace NvmeMptls.IntegrationTests.Interop;

/// <summary>
/// Our target with --tls required and a configured PSK, the Linux kernel host of Debian 13 (kernel 6.12, tlshd,
/// nvme-cli 2.13): discovery and connect over TLS 1.3, I/O verify, the PSK identity the host offered, and a host
/// holding a different key refused. One VM boot.
/// </summary>
[TestFixture]
[Category("Interop")]
[NonParallelizable]
public sealed class LinuxHostTlsTests
{
    private const string Nqn = "nqn.2026-01.io.nvmemptls:tls";
    private const string DiscoveryNqn = WellKnownNqns.Discovery;
    private const string HostNqn = "nqn.2014-08.org.nvmexpress:uuid:7d1a8c2e-4b3f-4e5a-9c6d-1e2f3a4b5c6d";
    private TargetRunner? _target;
    private LinuxVmOutput? _vm;
    private byte[] _key = [];

    private LinuxVmOutput Vm => _vm ?? throw new InvalidOperationException("no VM run");

    private TargetRunner Target => _target ?? throw new InvalidOperationException("no target");

    [OneTimeSetUp]
    public async Task BootAsync()
    {
        LinuxVm.IgnoreUnlessAvailable();
        _key = RandomNumberGenerator.GetBytes(32);
        string key = LinuxHostTlsKeys.InterchangeKey(_key);
        _target = await TargetRunner.StartAsync("--nqn", Nqn, "--memory-ns", "64MiB", "--tls", "required", "--tls-key", key);
        var variables = new Dictionary<string, string>
        {
            ["IOP_PORT"] = Target.Port.ToString(CultureInfo.InvariantCulture),
            ["IOP_NQN"] = Nqn,
            ["IOP_TLS_KEY"] = key,
            ["IOP_WRONG_KEY"] = LinuxHostTlsKeys.InterchangeKey(RandomNumberGenerator.GetBytes(32)),
            ["IOP_RFC_ID"] = LinuxHostTlsKeys.Identity(_key, HostNqn, Nqn, rfcForm: true),
            ["IOP_RFC_PSK"] = Convert.ToHexStringLower(LinuxHostTlsKeys.TlsPsk(_key, HostNqn, Nqn)),
            ["IOP_RFC_DISC_ID"] = LinuxHostTlsKeys.Identity(_key, HostNqn, DiscoveryNqn, rfcForm: true),
            ["IOP_RFC_DISC_PSK"] = Convert.ToHexStringLower(LinuxHostTlsKeys.TlsPsk(_key, HostNqn, DiscoveryNqn)),
            ["IOP_MB"] = "16",
        };
        _vm = await LinuxVm.RunAsync(variables, ["tls.sh"], Target.Port,
            harnessOptions: ["--suite", "trixie", "--hostnqn", HostNqn, "--tlshd-loglevel", "7"]);
        TestContext.Progress.WriteLine($"TLS VM boot: {Vm.Elapsed.TotalSeconds:F0} s, guest rc={Vm.GuestRc}");
    }

    private string TargetProblems() =>
        "target log warnings/errors:\n" + string.Join('\n', Target.ProblemLines().Take(8)) + "\n";

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
    public void DiscoveryOverTlsAdvertisesTls13Required()
    {
        Vm.AssertCheck("psk-insert", TargetProblems());
        Vm.AssertCheck("discover-tls", TargetProblems());
        using JsonDocument log = JsonDocument.Parse(Vm.Value("discover"));
        JsonElement entry = log.RootElement.GetProperty("records").EnumerateArray().Single(e => e.GetProperty("subnqn").GetString() == Nqn);
        Assert.Multiple(() =>
        {
            Assert.That(entry.GetProperty("trtype").GetString(), Is.EqualTo("tcp"));
            Assert.That(entry.GetProperty("trsvcid").GetString(), Is.EqualTo(Target.Port.ToString(CultureInfo.InvariantCulture)));
            Assert.That(entry.GetProperty("treq").GetString(), Does.StartWith("required"));
            Assert.That(entry.GetProperty("sectype").GetString(), Does.Contain("tls").IgnoreCase.And.Contain("13"));
        });
    }

    [Test]
    public void ConnectOverTlsVerifiesIo()
    {
        Vm.AssertCheck("connect-tls", TargetProblems());
        Vm.AssertCheck("io-tls", TargetProblems());
        Vm.AssertCheck("disconnect-tls", TargetProblems());
    }

    [Test]
    public void HostOffersTheV1RfcIdentityWithSha256()
    {
        Vm.AssertCheck("connect-tls", TargetProblems());
        Assert.Multiple(() =>
        {
            Assert.That(Vm.Value("tls.identity"), Is.EqualTo(LinuxHostTlsKeys.Identity(_key, HostNqn, Nqn, rfcForm: true)));
            Assert.That(Target.Log, Does.Contain("TLS_AES_128_GCM_SHA256"), "negotiated suite in the target log");
        });
    }

    /// <summary>nvme-cli 2.13 (libnvme 1.13) derives the pre-1.16 "compat" identity and PSK (nvme-tcp.md §4.4).</summary>
    [Test]
    public void HostWithNvmeCliCompatIdentityConnects()
    {
        Assert.That(Vm.Value("compat.keyring"), Does.Contain(LinuxHostTlsKeys.Identity(_key, HostNqn, Nqn, rfcForm: false)),
            "the identity nvme-cli check-tls-key -I 1 inserted");
        Vm.AssertCheck("connect-tls-compat", TargetProblems());
    }

    [Test]
    public void HostWithAnotherKeyIsRefused()
    {
        Vm.AssertCheck("connect-tls", TargetProblems()); // a refusal means something only once the right key connects
        Vm.AssertCheck("wrong-psk-insert", TargetProblems());
        Vm.AssertCheck("wrong-key-refused", TargetProblems());
    }
}
