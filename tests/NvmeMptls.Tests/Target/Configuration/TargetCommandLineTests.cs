using NvmeMptls.Target.Configuration;

namespace NvmeMptls.Tests.Target.Configuration;

public class TargetCommandLineTests
{
    private static readonly KeyValuePair<string, string?>[] s_noEnvironment = [];
    private string _directory = "";

    [SetUp]
    public void SetUp()
    {
        _directory = Path.Combine(Path.GetTempPath(), "nvmemptls-cli-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(_directory);
    }

    [TearDown]
    public void TearDown() => Directory.Delete(_directory, recursive: true);

    private TargetCommandLineResult Parse(params string[] args) => TargetCommandLine.Parse(args, s_noEnvironment, _directory);

    private TargetOptions ParseOk(params string[] args)
    {
        TargetCommandLineResult result = Parse(args);
        Assert.That(result.Errors, Is.Empty);
        return result.Options!;
    }

    [Test]
    public void CommandLine_NoArguments_GivesBuiltInDefault()
    {
        TargetOptions options = ParseOk();
        Assert.That(options.Subsystems.Single().Nqn, Is.EqualTo(TargetOptions.DefaultSubsystemNqn));
        Assert.That(options.Subsystems[0].Namespaces.Single(), Is.EqualTo(TargetOptions.Default.Subsystems[0].Namespaces[0]));
        Assert.That(options.Ports.Single(), Is.EqualTo(TargetOptions.Default.Ports[0]));
    }

    [Test]
    public void CommandLine_Help_IsReportedAndHelpTextListsEveryFlag()
    {
        TargetCommandLineResult result = Parse("--listen", "1.2.3.4:1", "--help");
        Assert.That(result.HelpRequested, Is.True);
        Assert.That(result.Options, Is.Null);
        string help = TargetCommandLine.HelpText;
        foreach (string flag in new[] { "--config", "--listen", "--discovery", "--memory-ns", "--file-ns", "--block-ns", "--nqn", "--allow-host", "--tls ", "--tls-key", "--multipath", "--metrics", "--lba-size", "--help" })
        {
            Assert.That(help, Does.Contain(flag));
        }
    }

    [Test]
    public void CommandLine_UnknownFlagsAndMissingValues_AreAllNamed()
    {
        TargetCommandLineResult result = Parse("--bogus", "stray", "--lba-size", "1000", "--tls", "maybe", "--listen");
        Assert.That(result.Succeeded, Is.False);
        Assert.That(result.Errors, Does.Contain("--bogus: unknown option (see --help)"));
        Assert.That(result.Errors, Has.One.StartsWith("'stray': unexpected argument"));
        Assert.That(result.Errors, Does.Contain("--lba-size: must be 512 or 4096 (was '1000')"));
        Assert.That(result.Errors, Does.Contain("--tls: must be one of none, optional, required (was 'maybe')"));
        Assert.That(result.Errors, Does.Contain("--listen: missing value (see --help)"));
    }

    [TestCase("--listen", "localhost:4420")]
    [TestCase("--listen", "127.0.0.1")]
    [TestCase("--discovery", "1.2.3.4:0")]
    [TestCase("--memory-ns", "big")]
    [TestCase("--multipath", "sometimes")]
    [TestCase("--metrics", "not a url")]
    public void CommandLine_BadFlagValue_NamesTheFlag(string flag, string value)
    {
        TargetCommandLineResult result = Parse(flag, value);
        Assert.That(result.Errors, Has.One.StartsWith(flag + ":"));
    }

    [Test]
    public void CommandLine_QuickStartFlags_ShapeTheOptions()
    {
        TargetOptions options = ParseOk(
            "--listen", "0.0.0.0:4421", "--discovery=127.0.0.1:8010", "--nqn", "nqn.2026-01.io.example:quick",
            "--allow-host", "nqn.2026-01.io.example:h1", "--allow-host", "nqn.2026-01.io.example:h2",
            "--tls", "required", "--tls-key", ConfigurationTestKit.ValidKey, "--multipath", "required",
            "--metrics", "off", "--lba-size", "4096");
        SubsystemOptions subsystem = options.Subsystems.Single();
        PortOptions port = options.Ports.Single();
        Assert.Multiple(() =>
        {
            Assert.That(port.ListenEndPoint.ToString(), Is.EqualTo("0.0.0.0:4421"));
            Assert.That(port.DiscoveryEndPoint?.ToString(), Is.EqualTo("127.0.0.1:8010"));
            Assert.That(port.Tls, Is.EqualTo(TlsMode.Required));
            Assert.That(port.Multipath, Is.EqualTo(MultipathMode.Required));
            Assert.That(subsystem.Nqn, Is.EqualTo("nqn.2026-01.io.example:quick"));
            Assert.That(subsystem.Serial, Is.EqualTo(NamespaceIdentifiers.DeriveSerial("nqn.2026-01.io.example:quick")), "serial follows the flag's NQN");
            Assert.That(subsystem.AllowAnyHost, Is.False);
            Assert.That(subsystem.AllowedHosts, Has.Length.EqualTo(2));
            Assert.That(subsystem.Namespaces.Single().LbaSize, Is.EqualTo(4096));
            Assert.That(subsystem.Namespaces[0].Nguid, Is.EqualTo(NamespaceIdentifiers.DeriveNguid("nqn.2026-01.io.example:quick", 1)));
            Assert.That(options.Tls.Keys.Single().Key, Is.EqualTo(ConfigurationTestKit.ValidKey));
            Assert.That(options.Metrics.Enabled, Is.False);
        });
    }

    [Test]
    public void CommandLine_NamespaceFlags_ReplaceDefaultNamespacesInOrder()
    {
        string file = Path.Combine(_directory, "ns.img");
        TargetOptions options = ParseOk("--memory-ns", "256MiB", "--file-ns", file + ":2GiB", "--block-ns", "/dev/loop7", "--memory-ns", "1G");
        var namespaces = options.Subsystems[0].Namespaces;
        Assert.That(namespaces, Has.Length.EqualTo(4));
        Assert.That(namespaces.Select(n => n.Nsid), Is.EqualTo(new uint[] { 1, 2, 3, 4 }));
        Assert.That(namespaces[0].SizeBytes, Is.EqualTo(256L << 20));
        Assert.That(namespaces[1].Backing, Is.EqualTo(NamespaceBacking.File));
        Assert.That(namespaces[1].Path, Is.EqualTo(file));
        Assert.That(namespaces[1].SizeBytes, Is.EqualTo(2L << 30));
        Assert.That(namespaces[2].Backing, Is.EqualTo(NamespaceBacking.Block));
        Assert.That(namespaces[2].SizeBytes, Is.Null);
        Assert.That(namespaces[3].SizeBytes, Is.EqualTo(1L << 30));
        Assert.That(namespaces.Select(n => n.Nguid).Distinct().Count(), Is.EqualTo(4));
    }

    [Test]
    public void CommandLine_FileNamespaceWithoutSize_KeepsWholePath()
    {
        TargetOptions options = ParseOk("--file-ns", "/srv/a:b.img");
        Assert.That(options.Subsystems[0].Namespaces[0].Path, Is.EqualTo("/srv/a:b.img"));
        Assert.That(options.Subsystems[0].Namespaces[0].SizeBytes, Is.Null);
    }

    [Test]
    public void CommandLine_Precedence_DefaultThenConfigThenEnvironmentThenFlags()
    {
        string config = Path.Combine(_directory, "target.json");
        File.WriteAllText(config, """
            { "Target": {
              "Subsystems": [ { "Nqn": "nqn.2026-01.io.example:file", "Namespaces": [ { "Size": "64MiB" }, { "Size": "32MiB" } ] } ],
              "Ports": [ { "Address": "127.0.0.1", "Port": 5000, "Multipath": "disabled" } ],
              "Limits": { "MaxIoQueues": 4, "MaxQueueSize": 64 } } }
            """);
        KeyValuePair<string, string?>[] environment =
        [
            new("NVMEMPTLS_Target__Ports__0__Port", "5001"),
            new("NVMEMPTLS_Target__Limits__MaxQueueSize", "128"),
            new("NVMEMPTLS_Target__Limits__MaxH2CData", "64KiB"),
        ];

        TargetCommandLineResult result = TargetCommandLine.Parse(["--config", config, "--listen", "127.0.0.1:5002", "--memory-ns", "8MiB"], environment, _directory);
        Assert.That(result.Errors, Is.Empty);
        TargetOptions options = result.Options!;
        Assert.Multiple(() =>
        {
            Assert.That(options.Subsystems.Single().Nqn, Is.EqualTo("nqn.2026-01.io.example:file"), "file beats default");
            Assert.That(options.Ports.Single().Multipath, Is.EqualTo(MultipathMode.Disabled), "file beats default");
            Assert.That(options.Ports[0].DiscoveryPort, Is.Null, "a configured port has no discovery unless it says so");
            Assert.That(options.Limits.MaxIoQueues, Is.EqualTo(4), "file");
            Assert.That(options.Limits.MaxQueueSize, Is.EqualTo(128), "environment beats file");
            Assert.That(options.Limits.MaxH2CData, Is.EqualTo(65536), "environment beats default");
            Assert.That(options.Ports[0].Port, Is.EqualTo(5002), "flag beats environment");
            Assert.That(options.Subsystems[0].Namespaces.Single().SizeBytes, Is.EqualTo(8L << 20), "--memory-ns replaces the file's namespace list");
            Assert.That(options.Limits.MaxDataTransferSize, Is.EqualTo(1 << 20), "default where nobody says otherwise");
        });

        TargetOptions withoutFlags = TargetConfiguration.Load(result.Configuration!);
        Assert.That(withoutFlags.Ports[0].Port, Is.EqualTo(5001), "Configuration holds the sources without the flags");
        Assert.That(TargetConfiguration.Load(result.Configuration!, result.ApplyFlags).Ports[0].Port, Is.EqualTo(5002));
    }

    [Test]
    public void CommandLine_ConfigFileProblems_NameTheFlag()
    {
        Assert.That(Parse("--config", Path.Combine(_directory, "missing.json")).Errors.Single(), Does.StartWith("--config: file '").And.EndWith("not found"));

        string broken = Path.Combine(_directory, "broken.json");
        File.WriteAllText(broken, "{ \"Target\": { ");
        Assert.That(Parse("--config", broken).Errors.Single(), Does.StartWith($"--config: '{broken}': cannot be read as JSON configuration"));
    }

    [Test]
    public void CommandLine_FlagsProducingInvalidOptions_ReportValidationErrors()
    {
        TargetCommandLineResult result = Parse("--tls", "required", "--nqn", "bad-nqn");
        Assert.That(result.Succeeded, Is.False);
        Assert.That(result.Errors, Has.One.StartsWith("Target:Ports:0:Tls: is 'required' but Target:Tls:Keys is empty"));
        Assert.That(result.Errors, Has.One.StartsWith("Target:Subsystems:0:Nqn: must look like"));
    }

    [Test]
    public void CommandLine_DiscoveryNone_RemovesDiscoveryListener()
    {
        Assert.That(ParseOk("--discovery", "none").Ports[0].DiscoveryEndPoint, Is.Null);
        Assert.That(ParseOk("--listen", "[::1]:4420", "--discovery", "[::1]:8009").Ports[0].DiscoveryEndPoint?.ToString(), Is.EqualTo("[::1]:8009"));
    }

    [Test]
    public void TlsV0Form_Compat_AppliesToFlagKeys()
    {
        const string key = "NVMeTLSkey-1:01:VRLbtnN9AQb2WXW3c9+wEf/DRLz0QuLdbYvEhwtdWwNf9LrZ:";
        TargetOptions options = ParseOk("--tls", "required", "--tls-key", key, "--tls-v0-form", "compat");
        Assert.That(options.Tls.Keys.Single().V0Compat, Is.True);
        Assert.That(ParseOk("--tls", "required", "--tls-key", key, "--tls-v0-form", "rfc").Tls.Keys.Single().V0Compat, Is.False);
        Assert.That(ParseOk("--tls", "required", "--tls-key", key).Tls.Keys.Single().V0Compat, Is.Null, "no flag: both forms, by the PSK binder");
        Assert.That(Parse("--tls-v0-form", "old").Errors, Does.Contain("--tls-v0-form: must be rfc or compat (was 'old')"));
    }

    [Test]
    public void CommandLine_IoEngine_AppliesToTheFileAndBlockNamespacesOnly()
    {
        TargetOptions options = ParseOk("--memory-ns", "256MiB", "--file-ns", "/var/tmp/a.img:1GiB", "--block-ns", "/dev/loop7", "--io-engine", "positional");
        var namespaces = options.Subsystems[0].Namespaces;
        Assert.That(namespaces[0].IoEngine, Is.EqualTo(NvmeMptls.Target.Namespaces.IoEngine.IoUring), "memory keeps the default (unused)");
        Assert.That(namespaces[1].IoEngine, Is.EqualTo(NvmeMptls.Target.Namespaces.IoEngine.Positional));
        Assert.That(namespaces[2].IoEngine, Is.EqualTo(NvmeMptls.Target.Namespaces.IoEngine.Positional));
        Assert.That(ParseOk("--file-ns", "/var/tmp/a.img:1GiB").Subsystems[0].Namespaces[0].IoEngine, Is.EqualTo(NvmeMptls.Target.Namespaces.IoEngine.IoUring));
    }

    [Test]
    public void CommandLine_IoEngine_BadValue_NamesTheFlag()
    {
        TargetCommandLineResult result = Parse("--file-ns", "/var/tmp/a.img:1GiB", "--io-engine", "libaio");
        Assert.That(result.Errors, Does.Contain("--io-engine: must be io_uring or positional (was 'libaio')"));
        Assert.That(TargetCommandLine.HelpText, Does.Contain("--io-engine"));
    }
}
