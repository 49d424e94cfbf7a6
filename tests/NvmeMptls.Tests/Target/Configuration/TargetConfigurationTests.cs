using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using NvmeMptls.Target.Configuration;
using static NvmeMptls.Tests.Target.Configuration.ConfigurationTestKit;

namespace NvmeMptls.Tests.Target.Configuration;

public class TargetConfigurationTests
{
    [Test]
    public void BuiltInDefault_IsOneGibMemoryNamespaceOnLoopback()
    {
        TargetOptions options = TargetOptions.Default;
        SubsystemOptions subsystem = options.Subsystems.Single();
        NamespaceOptions ns = subsystem.Namespaces.Single();
        PortOptions port = options.Ports.Single();
        Assert.Multiple(() =>
        {
            Assert.That(subsystem.Nqn, Is.EqualTo("nqn.2026-01.io.nvmemptls:default"));
            Assert.That(subsystem.AllowAnyHost, Is.True);
            Assert.That(subsystem.Serial, Is.EqualTo(NamespaceIdentifiers.DeriveSerial(subsystem.Nqn)));
            Assert.That(ns.Nsid, Is.EqualTo(1u));
            Assert.That(ns.Backing, Is.EqualTo(NamespaceBacking.Memory));
            Assert.That(ns.SizeBytes, Is.EqualTo(1L << 30));
            Assert.That(ns.LbaSize, Is.EqualTo(512));
            Assert.That(ns.Nguid, Is.EqualTo(NamespaceIdentifiers.DeriveNguid(subsystem.Nqn, 1)));
            Assert.That(ns.Uuid, Is.EqualTo(NamespaceIdentifiers.DeriveUuid(subsystem.Nqn, 1)));
            Assert.That(port.ListenEndPoint.ToString(), Is.EqualTo("127.0.0.1:4420"));
            Assert.That(port.DiscoveryEndPoint?.ToString(), Is.EqualTo("127.0.0.1:8009"));
            Assert.That(port.Multipath, Is.EqualTo(MultipathMode.Preferred));
            Assert.That(port.Tls, Is.EqualTo(TlsMode.None));
            Assert.That(options.Metrics.Enabled, Is.True);
            Assert.That(options.Metrics.Url, Is.EqualTo("http://127.0.0.1:9464/metrics"));
            Assert.That(options.Tls.KeyUpdate, Is.EqualTo(KeyUpdateMode.Reconnect));
            Assert.That(options.Limits.MaxDataTransferSize, Is.EqualTo(1 << 20));
            Assert.That(options.ShutdownGracePeriod, Is.EqualTo(TimeSpan.FromSeconds(10)));
        });
    }

    [Test]
    public void Load_EmptyConfiguration_GivesBuiltInDefault()
    {
        TargetOptions options = Load();
        Assert.That(options.Subsystems.Single() with { Namespaces = [] }, Is.EqualTo(TargetOptions.Default.Subsystems[0] with { Namespaces = [] }));
        Assert.That(options.Subsystems[0].Namespaces.Single(), Is.EqualTo(TargetOptions.Default.Subsystems[0].Namespaces[0]));
        Assert.That(options.Ports.Single(), Is.EqualTo(TargetOptions.Default.Ports[0]));
        Assert.That(TargetConfiguration.Validate(TargetOptions.Default).Subsystems[0].Serial, Is.EqualTo(TargetOptions.Default.Subsystems[0].Serial));
    }

    [Test]
    public void Load_ConfiguredIdentifiers_AreKeptAndDerivedOnesStableAcrossLoads()
    {
        (string, string?)[] values =
        [
            ("Target:Subsystems:0:Nqn", "nqn.2026-01.io.example:a"),
            ("Target:Subsystems:0:Namespaces:0:Size", "1GiB"),
            ("Target:Subsystems:0:Namespaces:0:Nguid", "00112233-4455-6677-8899-aabbccddeeff"),
            ("Target:Subsystems:0:Namespaces:1:Size", "1GiB"),
        ];
        TargetOptions first = Load(values);
        TargetOptions second = Load(values);
        Assert.That(NamespaceIdentifiers.FormatNguid(first.Subsystems[0].Namespaces[0].Nguid), Is.EqualTo("00112233445566778899aabbccddeeff"));
        Assert.That(first.Subsystems[0].Namespaces[1].Nsid, Is.EqualTo(2u), "NSID defaults to position + 1");
        Assert.That(second.Subsystems[0].Namespaces[1].Nguid, Is.EqualTo(first.Subsystems[0].Namespaces[1].Nguid));
        Assert.That(second.Subsystems[0].Namespaces[1].Uuid, Is.EqualTo(first.Subsystems[0].Namespaces[1].Uuid));
        Assert.That(first.Subsystems[0].Namespaces[1].Uuid, Is.Not.EqualTo(first.Subsystems[0].Namespaces[0].Uuid));
    }

    [Test]
    public void Load_AllowedHostsWithoutAllowAnyHost_MeansOnlyThoseHosts()
    {
        TargetOptions options = Load(
            ("Target:Subsystems:0:Nqn", "nqn.2026-01.io.example:a"),
            ("Target:Subsystems:0:AllowedHosts:0", "nqn.2026-01.io.example:host1"));
        Assert.That(options.Subsystems[0].AllowAnyHost, Is.False);
        Assert.That(options.Subsystems[0].AllowedHosts, Is.EqualTo(new[] { "nqn.2026-01.io.example:host1" }));
    }

    [Test]
    public void SampleConfiguration_LoadsAndValidates()
    {
        string sample = Path.Combine(RepositoryRoot(), "deploy", "nvme-mptls-target.sample.json");
        IConfigurationRoot configuration = new ConfigurationBuilder().AddJsonFile(sample).Build();
        TargetOptions options = TargetConfiguration.Load(configuration);

        Assert.That(options.Subsystems[0].Namespaces, Has.Length.EqualTo(2));
        Assert.That(options.Subsystems[0].Namespaces[1].Backing, Is.EqualTo(NamespaceBacking.File));
        Assert.That(options.Subsystems[0].Namespaces[1].LbaSize, Is.EqualTo(4096));
        Assert.That(options.Subsystems[0].AllowAnyHost, Is.False);
        Assert.That(options.Ports[0].Tls, Is.EqualTo(TlsMode.Optional));
        Assert.That(options.Tls.Keys.Single().SubsystemNqn, Is.EqualTo(options.Subsystems[0].Nqn));
        Assert.That(options.Subsystems[0].Namespaces[0].Nguid, Is.Not.EqualTo(UInt128.Zero), "null NGUID in JSON means derived");
    }

    [Test]
    public void SampleConfiguration_SetsEveryDocumentedKey()
    {
        string root = RepositoryRoot();
        string readme = File.ReadAllText(Path.Combine(root, "deploy", "README.md"));
        IConfigurationRoot configuration = new ConfigurationBuilder().AddJsonFile(Path.Combine(root, "deploy", "nvme-mptls-target.sample.json")).Build();
        foreach (KeyValuePair<string, string?> pair in configuration.AsEnumerable())
        {
            string leaf = pair.Key.Split(':')[^1];
            if (!int.TryParse(leaf, out _) && pair.Key != "Target")
            {
                Assert.That(readme, Does.Contain($"`{leaf}").Or.Contain($":{leaf}"), $"deploy/README.md documents {pair.Key}");
            }
        }
    }

    [Test]
    public void AddTargetOptions_ReloadWithValidChange_UpdatesMonitorAndInvalidChangeKeepsLastGood()
    {
        IConfigurationRoot configuration = Build(("Target:Ports:0:Port", "4420"));
        using ServiceProvider services = new ServiceCollection().AddTargetOptions(configuration).BuildServiceProvider();
        var monitor = services.GetRequiredService<IOptionsMonitor<TargetOptions>>();
        Assert.That(monitor.CurrentValue.Ports[0].Port, Is.EqualTo(4420));

        TargetOptions? changed = null;
        using IDisposable? subscription = monitor.OnChange(o => changed = o);
        configuration["Target:Ports:0:Port"] = "4421";
        configuration.Reload();
        Assert.That(monitor.CurrentValue.Ports[0].Port, Is.EqualTo(4421));
        Assert.That(changed?.Ports[0].Port, Is.EqualTo(4421));

        configuration["Target:Ports:0:Port"] = "99999";
        configuration.Reload();
        Assert.That(monitor.CurrentValue.Ports[0].Port, Is.EqualTo(4421), "an invalid reload keeps the last good options");
    }

    [Test]
    public void AddTargetOptions_InvalidAtStart_ThrowsWithEveryError()
    {
        IConfigurationRoot configuration = Build(("Target:Ports:0:Port", "0"), ("Target:Limits:MaxIoQueues", "0"));
        using ServiceProvider services = new ServiceCollection().AddTargetOptions(configuration).BuildServiceProvider();
        TargetConfigurationException error = Assert.Throws<TargetConfigurationException>(
            () => _ = services.GetRequiredService<IOptions<TargetOptions>>().Value)!;
        Assert.That(error.Errors, Has.Length.EqualTo(2));
    }

    [Test]
    public void AddTargetSources_AppSettingsBesideBinary_IsUsedBelowConfigFileAndEnvironment()
    {
        string directory = Path.Combine(Path.GetTempPath(), "nvmemptls-cfg-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(directory);
        try
        {
            File.WriteAllText(Path.Combine(directory, "appsettings.json"), """{ "Target": { "Ports": [ { "Port": 5000, "Tls": "optional" } ], "Limits": { "MaxIoQueues": 8 } } }""");
            string config = Path.Combine(directory, "target.json");
            File.WriteAllText(config, """{ "Target": { "Ports": [ { "Port": 5001 } ], "Limits": { "MaxQueueSize": 128 } } }""");
            IConfigurationRoot configuration = new ConfigurationBuilder()
                .AddTargetSources(config, environment: [new("NVMEMPTLS_Target__Limits__MaxQueueSize", "256"), new("OTHER_Target__Limits__MaxIoQueues", "1")], appSettingsDirectory: directory)
                .Build();
            TargetOptions options = TargetConfiguration.Load(configuration);
            Assert.That(options.Ports.Single().Port, Is.EqualTo(5001), "--config file beats appsettings.json");
            Assert.That(options.Ports[0].Tls, Is.EqualTo(TlsMode.Optional), "keys the file does not set come from appsettings.json");
            Assert.That(options.Limits.MaxIoQueues, Is.EqualTo(8), "variables without the NVMEMPTLS_ prefix are ignored");
            Assert.That(options.Limits.MaxQueueSize, Is.EqualTo(256), "environment beats the file");
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }
}
