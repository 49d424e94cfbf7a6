using System.Collections.Immutable;
using NvmeMptls.Target.Configuration;
using NvmeMptls.Target.Hosting;
using NvmeMptls.Target.Tcp;
using NvmeMptls.Transport.Nvme;
using static NvmeMptls.Tests.Target.Configuration.ConfigurationTestKit;

namespace NvmeMptls.Tests.Target.Configuration;

public class TargetOptionsValidationTests
{
    private const string Ns0 = "Target:Subsystems:0:Namespaces:0";
    private const string Ns1 = "Target:Subsystems:0:Namespaces:1";

    private static readonly (string, string?)[] s_subsystem =
    [
        ("Target:Subsystems:0:Nqn", "nqn.2026-01.io.example:a"),
        ($"{Ns0}:Size", "1GiB"),
    ];

    private static ImmutableArray<string> ErrorsWith(params (string, string?)[] values) => Errors([.. s_subsystem, .. values]);

    [Test]
    public void Validation_LbaSizeNot512Or4096_NamesKeyAndAcceptedValues()
    {
        ImmutableArray<string> errors = ErrorsWith(($"{Ns1}:Size", "1MiB"), ($"{Ns1}:LbaSize", "1000"));
        Assert.That(errors, Does.Contain("Target:Subsystems:0:Namespaces:1:LbaSize: must be 512 or 4096 (was 1000)"));
    }

    [TestCase("not-an-nqn")]
    [TestCase("nqn.2026-01.io.example")]
    [TestCase("nqn.2014-08.org.nvmexpress:uuid:1234")]
    public void Validation_BadNqn_IsReported(string nqn)
    {
        Assert.That(Errors(("Target:Subsystems:0:Nqn", nqn), ($"{Ns0}:Size", "1GiB")), Has.One.StartsWith("Target:Subsystems:0:Nqn: must"));
    }

    [Test]
    public void Validation_MissingNqnAndDiscoveryNqn_AreReported()
    {
        ImmutableArray<string> errors = Errors(
            ("Target:Subsystems:0:Model", "x"),
            ("Target:Subsystems:1:Nqn", WellKnownNqns.Discovery));
        Assert.That(errors, Does.Contain("Target:Subsystems:0:Nqn: is required"));
        Assert.That(errors, Has.One.StartsWith("Target:Subsystems:1:Nqn: nqn.2014-08.org.nvmexpress.discovery is the discovery subsystem"));
    }

    [Test]
    public void Validation_DuplicateNqn_NamesBothEntries()
    {
        ImmutableArray<string> errors = ErrorsWith(("Target:Subsystems:1:Nqn", "nqn.2026-01.io.example:a"));
        Assert.That(errors, Does.Contain("Target:Subsystems:1:Nqn: duplicate of Target:Subsystems:0:Nqn ('nqn.2026-01.io.example:a')"));
    }

    [Test]
    public void Validation_DuplicateNsid_IsReported()
    {
        ImmutableArray<string> errors = ErrorsWith(($"{Ns0}:Nsid", "3"), ($"{Ns1}:Nsid", "3"), ($"{Ns1}:Size", "1MiB"));
        Assert.That(errors, Has.One.StartsWith($"{Ns1}:Nsid: duplicate of {Ns0}:Nsid (NSID 3)"));
    }

    [TestCase("0", "0")]
    [TestCase("4294967295", "4294967295")]
    [TestCase("0xFFFFFFFF", "4294967295")]
    public void Validation_ReservedNsid_IsReported(string nsid, string shown)
    {
        Assert.That(ErrorsWith(($"{Ns0}:Nsid", nsid)), Does.Contain($"{Ns0}:Nsid: must be between 1 and 4294967294 (was {shown})"));
    }

    [Test]
    public void Validation_UnknownBacking_ListsAcceptedValues()
    {
        Assert.That(ErrorsWith(($"{Ns0}:Backing", "tape")), Does.Contain($"{Ns0}:Backing: must be one of memory, file, block, rbd (was 'tape')"));
    }

    [Test]
    public void Validation_UnknownSendMode_ListsAcceptedValues()
    {
        Assert.That(ErrorsWith(("Target:SendMode", "reactor")), Does.Contain("Target:SendMode: must be one of burst, loop (was 'reactor')"));
    }

    [TestCase(null, QueueSendMode.Burst)]
    [TestCase("loop", QueueSendMode.Loop)]
    [TestCase("Burst", QueueSendMode.Burst)]
    public void SendMode_IsReadAndReachesTheEngine(string? value, QueueSendMode expected)
    {
        Assert.That(TargetBuilder.ToLimits(Load([.. s_subsystem, ("Target:SendMode", value)])).SendMode, Is.EqualTo(expected));
    }

    [TestCase(null, 0)]
    [TestCase("50", 50)]
    public void ReceivePollMicroseconds_IsReadAndReachesTheEngine(string? value, int expected)
    {
        Assert.That(TargetBuilder.ToLimits(Load([.. s_subsystem, ("Target:ReceivePollMicroseconds", value)])).ReceivePoll,
            Is.EqualTo(TimeSpan.FromMicroseconds(expected)));
    }

    [TestCase("-1")]
    [TestCase("10001")]
    public void Validation_ReceivePollOutOfRange_NamesTheKeyAndTheRange(string value)
    {
        Assert.That(ErrorsWith(("Target:ReceivePollMicroseconds", value)),
            Does.Contain($"Target:ReceivePollMicroseconds: must be from 0 (off) to 10000 microseconds (was {value})"));
    }

    [TestCase("file")]
    [TestCase("block")]
    public void Validation_FileOrBlockWithoutPath_IsReported(string backing)
    {
        Assert.That(ErrorsWith(($"{Ns0}:Backing", backing)), Does.Contain($"{Ns0}:Path: is required for {backing} backing"));
    }

    [Test]
    public void Validation_SizeProblems_AreReported()
    {
        Assert.That(ErrorsWith(($"{Ns0}:Size", "1000")), Does.Contain($"{Ns0}:Size: must be a multiple of LbaSize 512 (was 1000 bytes)"));
        Assert.That(ErrorsWith(($"{Ns0}:Size", "6KiB"), ($"{Ns0}:LbaSize", "4096")), Does.Contain($"{Ns0}:Size: must be a multiple of LbaSize 4096 (was 6144 bytes)"));
        Assert.That(ErrorsWith(($"{Ns0}:Size", "0")), Does.Contain($"{Ns0}:Size: must be greater than zero (was 0)"));
        Assert.That(ErrorsWith(($"{Ns0}:Size", "lots")), Has.One.StartsWith($"{Ns0}:Size: must be a size such as 4096, 512MiB, 1GiB or 1G"));
        Assert.That(Errors(("Target:Subsystems:0:Nqn", "nqn.2026-01.io.example:a"), ($"{Ns0}:Backing", "memory")), Does.Contain($"{Ns0}:Size: is required for memory backing (e.g. 1GiB)"));
    }

    [Test]
    public void Validation_DuplicateNguidOrUuid_AcrossSubsystems_IsReported()
    {
        const string nguid = "00112233445566778899aabbccddeeff";
        const string uuid = "0b7c2a4e-5d1f-4e3a-9c8b-7a6d5e4f3c2b";
        ImmutableArray<string> errors = ErrorsWith(
            ($"{Ns0}:Nguid", nguid),
            ($"{Ns0}:Uuid", uuid),
            ("Target:Subsystems:1:Nqn", "nqn.2026-01.io.example:b"),
            ("Target:Subsystems:1:Namespaces:0:Size", "1GiB"),
            ("Target:Subsystems:1:Namespaces:0:Nguid", nguid.ToUpperInvariant()),
            ("Target:Subsystems:1:Namespaces:0:Uuid", uuid));
        Assert.That(errors, Does.Contain($"Target:Subsystems:1:Namespaces:0:Nguid: {nguid} is also used by {Ns0}:Nguid; NGUIDs must be unique"));
        Assert.That(errors, Does.Contain($"Target:Subsystems:1:Namespaces:0:Uuid: {uuid} is also used by {Ns0}:Uuid; UUIDs must be unique"));
    }

    [Test]
    public void Validation_MalformedNguidAndUuid_AreReported()
    {
        ImmutableArray<string> errors = ErrorsWith(($"{Ns0}:Nguid", "xyz"), ($"{Ns0}:Uuid", "00000000-0000-0000-0000-000000000000"));
        Assert.That(errors, Has.One.StartsWith($"{Ns0}:Nguid: must be 32 hex digits"));
        Assert.That(errors, Has.One.StartsWith($"{Ns0}:Uuid: must be a UUID"));
    }

    [Test]
    public void Validation_PortProblems_AreReported()
    {
        ImmutableArray<string> errors = ErrorsWith(
            ("Target:Ports:0:Port", "4420"),
            ("Target:Ports:1:Id", "1"),
            ("Target:Ports:1:Port", "4420"),
            ("Target:Ports:2:Address", "localhost"),
            ("Target:Ports:3:Port", "70000"),
            ("Target:Ports:4:Port", "4430"),
            ("Target:Ports:4:DiscoveryPort", "4430"));
        Assert.That(errors, Does.Contain("Target:Ports:1:Id: duplicate of Target:Ports:0:Id (Id 1)"));
        Assert.That(errors, Does.Contain("Target:Ports:1:Port: 127.0.0.1:4420 is already used by Target:Ports:0:Port"));
        Assert.That(errors, Does.Contain("Target:Ports:2:Address: must be an IPv4 or IPv6 address such as 127.0.0.1, 0.0.0.0 or :: (was 'localhost')"));
        Assert.That(errors, Does.Contain("Target:Ports:3:Port: must be between 1 and 65535 (was 70000)"));
        Assert.That(errors, Does.Contain("Target:Ports:4:DiscoveryPort: 127.0.0.1:4430 is already used by Target:Ports:4:Port"));
    }

    [Test]
    public void Validation_ExpectedPathsOutOfRange_NamesKeyAndRange()
    {
        ImmutableArray<string> errors = ErrorsWith(("Target:Ports:0:ExpectedPaths", "9"));
        Assert.That(errors, Does.Contain("Target:Ports:0:ExpectedPaths: must be 1..8 (was 9)"));
        Assert.That(ErrorsWith(("Target:Ports:0:ExpectedPaths", "2")), Is.Empty);
    }

    [Test]
    public void Validation_BadEnumValues_ListAcceptedValues()
    {
        ImmutableArray<string> errors = ErrorsWith(
            ("Target:Ports:0:Multipath", "always"),
            ("Target:Ports:0:Tls", "yes"),
            ("Target:Tls:KeyUpdate", "rekey"));
        Assert.That(errors, Does.Contain("Target:Ports:0:Multipath: must be one of preferred, required, disabled (was 'always')"));
        Assert.That(errors, Does.Contain("Target:Ports:0:Tls: must be one of none, optional, required (was 'yes')"));
        Assert.That(errors, Does.Contain("Target:Tls:KeyUpdate: must be one of reconnect, keyupdate, none (was 'rekey')"));
    }

    [Test]
    public void Validation_TlsRequiredWithoutKeys_IsReported()
    {
        Assert.That(ErrorsWith(("Target:Ports:0:Tls", "required")), Has.One.StartsWith("Target:Ports:0:Tls: is 'required' but Target:Tls:Keys is empty"));
        Assert.That(ErrorsWith(("Target:Ports:0:Tls", "required"), ("Target:Tls:Keys:0:Key", ValidKey)), Is.Empty);
    }

    [Test]
    public void Validation_TlsKeyProblems_AreReportedWithoutEchoingKeys()
    {
        string keyFile = Path.GetTempFileName();
        try
        {
            File.WriteAllText(keyFile, "NVMeTLSkey-1:09:abc:\n");
            ImmutableArray<string> errors = ErrorsWith(
                ("Target:Tls:Keys:0:Key", "NVMeTLSkey-1:01:c2VjcmV0:"),
                ("Target:Tls:Keys:1:Key", ValidKey),
                ("Target:Tls:Keys:1:KeyFile", keyFile),
                ("Target:Tls:Keys:2:KeyFile", keyFile),
                ("Target:Tls:Keys:3:KeyFile", "/nonexistent/key"),
                ("Target:Tls:Keys:4:Key", ValidKey),
                ("Target:Tls:Keys:4:HostNqn", "host"),
                ("Target:Tls:Keys:4:SubsystemNqn", "nqn.2026-01.io.example:unknown"));
            Assert.That(errors, Has.One.StartsWith("Target:Tls:Keys:0:Key: key must be 32 or 48 bytes"));
            Assert.That(errors, Has.One.StartsWith("Target:Tls:Keys:1: set exactly one of Key"));
            Assert.That(errors, Has.One.StartsWith($"Target:Tls:Keys:2:KeyFile: contents of '{keyFile}' hash indicator must be 00, 01 or 02"));
            Assert.That(errors, Does.Contain("Target:Tls:Keys:3:KeyFile: file '/nonexistent/key' does not exist"));
            Assert.That(errors, Has.One.StartsWith("Target:Tls:Keys:4:HostNqn: must look like"));
            Assert.That(errors, Does.Contain("Target:Tls:Keys:4:SubsystemNqn: must name a configured subsystem (was 'nqn.2026-01.io.example:unknown')"));
            Assert.That(string.Join("\n", errors), Does.Not.Contain("c2VjcmV0").And.Not.Contain("HdyRGh"));
        }
        finally
        {
            File.Delete(keyFile);
        }
    }

    [Test]
    public void Validation_KeyFileWithValidKey_IsAcceptedAndReadable()
    {
        string keyFile = Path.GetTempFileName();
        try
        {
            File.WriteAllText(keyFile, ValidKey + "\n");
            TargetOptions options = Load([.. s_subsystem, ("Target:Tls:Keys:0:KeyFile", keyFile), ("Target:Ports:0:Tls", "required")]);
            Assert.That(options.Tls.Keys[0].ReadKey(), Is.EqualTo(ValidKey));
        }
        finally
        {
            File.Delete(keyFile);
        }
    }

    [Test]
    public void Validation_BadMetricsUrl_IsReportedOnlyWhenEnabled()
    {
        Assert.That(ErrorsWith(("Target:Metrics:Url", "not a url")), Has.One.StartsWith("Target:Metrics:Url: must be an absolute http:// or https:// URL"));
        Assert.That(ErrorsWith(("Target:Metrics:Url", "ftp://host/metrics")), Has.One.StartsWith("Target:Metrics:Url:"));
        Assert.That(ErrorsWith(("Target:Metrics:Url", "not a url"), ("Target:Metrics:Enabled", "false")), Is.Empty);
    }

    [Test]
    public void Timeouts_DefaultsAndConfiguredValues_ReachTheEngineLimits()
    {
        var defaults = NvmeMptls.Target.Hosting.TargetBuilder.ToLimits(ConfigurationTestKit.Load());
        Assert.That((defaults.IcReqTimeout, defaults.ConnectTimeout), Is.EqualTo((TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(10))));
        var set = NvmeMptls.Target.Hosting.TargetBuilder.ToLimits(ConfigurationTestKit.Load(("Target:Timeouts:IcReq", "00:00:02"), ("Target:Timeouts:Connect", "00:00:30")));
        Assert.That((set.IcReqTimeout, set.ConnectTimeout), Is.EqualTo((TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(30))));
    }

    [Test]
    public void DataAndSendStallTimeouts_DefaultsAndConfiguredValues_ReachTheEngineLimits()
    {
        var defaults = NvmeMptls.Target.Hosting.TargetBuilder.ToLimits(ConfigurationTestKit.Load());
        Assert.That((defaults.DataTimeout, defaults.SendStallTimeout), Is.EqualTo((TimeSpan.FromSeconds(30), TimeSpan.FromSeconds(30))));
        var set = NvmeMptls.Target.Hosting.TargetBuilder.ToLimits(ConfigurationTestKit.Load(("Target:Timeouts:Data", "00:00:07"), ("Target:Timeouts:SendStall", "00:01:00")));
        Assert.That((set.DataTimeout, set.SendStallTimeout), Is.EqualTo((TimeSpan.FromSeconds(7), TimeSpan.FromMinutes(1))));
    }

    [Test]
    public void Timeouts_ZeroOrNegative_AreReportedWithTheirKeys()
    {
        ImmutableArray<string> errors = ErrorsWith(("Target:Timeouts:IcReq", "00:00:00"), ("Target:Timeouts:Connect", "-00:00:01"));
        Assert.That(errors, Has.One.StartsWith("Target:Timeouts:IcReq: must be greater than zero"));
        Assert.That(errors, Has.One.StartsWith("Target:Timeouts:Connect: must be greater than zero"));
    }

    [Test]
    public void DataAndSendStallTimeouts_ZeroOrNegative_AreReportedWithTheirKeys()
    {
        ImmutableArray<string> errors = ErrorsWith(("Target:Timeouts:Data", "00:00:00"), ("Target:Timeouts:SendStall", "-00:00:01"));
        Assert.That(errors, Has.One.StartsWith("Target:Timeouts:Data: must be greater than zero"));
        Assert.That(errors, Has.One.StartsWith("Target:Timeouts:SendStall: must be greater than zero"));
    }

    [Test]
    public void Validation_ScalarTypeAndRangeErrors_AreReported()
    {
        ImmutableArray<string> errors = ErrorsWith(
            ("Target:Subsystems:0:AllowAnyHost", "maybe"),
            ("Target:Tls:HandshakeTimeout", "ten seconds"),
            ("Target:KeepAlive:DiscoveryDefaultTimeout", "00:00:00"),
            ("Target:ShutdownGracePeriod", "-00:00:01"),
            ("Target:Limits:MaxIoQueues", "0"),
            ("Target:Limits:MaxQueueSize", "many"),
            ("Target:Limits:InCapsuleDataSize", "1000"),
            ("Target:Limits:MaxH2CData", "1024"),
            ("Target:Limits:MaxDataTransferSize", "3MiB"),
            ("Target:Subsystems:0:Serial", "serial-number-that-is-too-long"),
            ("Target:Subsystems:0:Model", "Modél"));
        Assert.That(errors, Does.Contain("Target:Subsystems:0:AllowAnyHost: must be true or false (was 'maybe')"));
        Assert.That(errors, Has.One.StartsWith("Target:Tls:HandshakeTimeout: must be a duration written hh:mm:ss"));
        Assert.That(errors, Has.One.StartsWith("Target:KeepAlive:DiscoveryDefaultTimeout: must be greater than zero"));
        Assert.That(errors, Has.One.StartsWith("Target:ShutdownGracePeriod: must not be negative"));
        Assert.That(errors, Does.Contain("Target:Limits:MaxIoQueues: must be between 1 and 65535 (was 0)"));
        Assert.That(errors, Has.One.StartsWith("Target:Limits:MaxQueueSize: must be a whole number"));
        Assert.That(errors, Does.Contain("Target:Limits:InCapsuleDataSize: must be a multiple of 16 from 0 to 1048576 (was 1000)"));
        Assert.That(errors, Does.Contain("Target:Limits:MaxH2CData: must be at least 4096 (was 1024)"));
        Assert.That(errors, Does.Contain("Target:Limits:MaxDataTransferSize: must be a power of two of at least 4096 (was 3145728)"));
        Assert.That(errors, Has.One.StartsWith("Target:Subsystems:0:Serial: must be 1 to 20 printable ASCII characters"));
        Assert.That(errors, Has.One.StartsWith("Target:Subsystems:0:Model: must be 1 to 40 printable ASCII characters"));
    }

    [Test]
    public void Validation_HostAccessProblems_AreReported()
    {
        ImmutableArray<string> errors = ErrorsWith(("Target:Subsystems:0:AllowAnyHost", "false"), ("Target:Subsystems:1:Nqn", "nqn.2026-01.io.example:b"), ("Target:Subsystems:1:AllowedHosts:0", "bad-host"));
        Assert.That(errors, Does.Contain("Target:Subsystems:0:AllowedHosts: must list at least one host NQN when AllowAnyHost is false"));
        Assert.That(errors, Has.One.StartsWith("Target:Subsystems:1:AllowedHosts:0: must look like"));
    }

    [Test]
    public void Validation_ManyMistakes_AreAllCollectedAndThrownTogether()
    {
        var configuration = Build(
            ("Target:Subsystems:0:Nqn", "bad"),
            ($"{Ns0}:LbaSize", "1000"),
            ("Target:Ports:0:Port", "0"),
            ("Target:Metrics:Url", "::"));
        TargetConfigurationException error = Assert.Throws<TargetConfigurationException>(() => TargetConfiguration.Load(configuration))!;
        Assert.That(error.Errors, Has.Length.GreaterThanOrEqualTo(5), string.Join("\n", error.Errors));
        Assert.That(error.Message, Does.Contain("Target:Subsystems:0:Nqn").And.Contain("Target:Ports:0:Port").And.Contain("Target:Metrics:Url"));
    }

    [Test]
    public void Validation_EmptyLists_AreReportedNotDefaulted()
    {
        ImmutableArray<string> errors = Errors(("Target:Subsystems", ""), ("Target:Ports", ""));
        Assert.That(errors, Does.Contain("Target:Subsystems: at least one subsystem is required"));
        Assert.That(errors, Does.Contain("Target:Ports: at least one port is required"));
    }

    [Test]
    public void IoEngine_UnknownValue_NamesTheKey()
    {
        Assert.That(ErrorsWith(($"{Ns0}:Backing", "file"), ($"{Ns0}:Path", "/var/tmp/x.img"), ($"{Ns0}:IoEngine", "aio")),
            Does.Contain($"{Ns0}:IoEngine: must be one of io_uring, positional (was 'aio')"));
    }

    [Test]
    public void IoEngine_PositionalOnAMemoryNamespace_IsRefusedNamingTheKey()
    {
        Assert.That(ErrorsWith(($"{Ns0}:IoEngine", "positional")),
            Does.Contain($"{Ns0}:IoEngine: positional applies to file and block backing only, not memory"));
    }

    [TestCase("io_uring", NvmeMptls.Target.Namespaces.IoEngine.IoUring)]
    [TestCase("positional", NvmeMptls.Target.Namespaces.IoEngine.Positional)]
    [TestCase(null, NvmeMptls.Target.Namespaces.IoEngine.IoUring)]
    public void IoEngine_IsReadForFileNamespaces_DefaultIoUring(string? value, NvmeMptls.Target.Namespaces.IoEngine expected)
    {
        var values = new List<(string, string?)>(s_subsystem) { ($"{Ns0}:Backing", "file"), ($"{Ns0}:Path", "/var/tmp/x.img") };
        if (value is not null)
        {
            values.Add(($"{Ns0}:IoEngine", value));
        }

        Assert.That(Errors([.. values]), Is.Empty);
        Assert.That(Load([.. values]).Subsystems[0].Namespaces[0].IoEngine, Is.EqualTo(expected));
    }
}
