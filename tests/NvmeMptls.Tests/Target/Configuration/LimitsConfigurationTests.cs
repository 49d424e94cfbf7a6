using NvmeMptls.Target.Hosting;

namespace NvmeMptls.Tests.Target.Configuration;

/// <summary>Target:Limits keys of issue 12: defaults, configured values reaching the engine, and errors naming the key.</summary>
public sealed class LimitsConfigurationTests
{
    [Test]
    public void Defaults_ReachTheEngine()
    {
        var limits = TargetBuilder.ToLimits(ConfigurationTestKit.Load());
        Assert.Multiple(() =>
        {
            Assert.That(limits.MaxBufferedBytes, Is.EqualTo(1L << 30));
            Assert.That(limits.MaxConnectionBufferedBytes, Is.EqualTo(64L << 20));
            Assert.That(limits.MaxOutstandingR2T, Is.EqualTo(256));
            Assert.That(limits.BufferIdleTrim, Is.EqualTo(TimeSpan.FromSeconds(30)));
            Assert.That(limits.MaxConnections, Is.EqualTo(4096));
            Assert.That(limits.MaxConnectionsPerAddress, Is.EqualTo(1024));
            Assert.That(limits.MaxConnectionsPerHost, Is.EqualTo(1024));
            Assert.That(limits.MaxControllersPerHost, Is.EqualTo(64));
        });
    }

    [Test]
    public void ConfiguredValues_WithUnits_ReachTheEngine()
    {
        var limits = TargetBuilder.ToLimits(ConfigurationTestKit.Load(
            ("Target:Limits:MaxBufferedBytes", "512MiB"),
            ("Target:Limits:MaxConnectionBufferedBytes", "8MiB"),
            ("Target:Limits:MaxOutstandingR2T", "16"),
            ("Target:Limits:BufferIdleTrim", "00:00:05"),
            ("Target:Limits:MaxConnections", "100"),
            ("Target:Limits:MaxConnectionsPerAddress", "10"),
            ("Target:Limits:MaxConnectionsPerHost", "20"),
            ("Target:Limits:MaxControllersPerHost", "4")));
        Assert.That((limits.MaxBufferedBytes, limits.MaxConnectionBufferedBytes, limits.MaxOutstandingR2T, limits.BufferIdleTrim),
            Is.EqualTo((512L << 20, 8L << 20, 16, TimeSpan.FromSeconds(5))));
        Assert.That((limits.MaxConnections, limits.MaxConnectionsPerAddress, limits.MaxConnectionsPerHost, limits.MaxControllersPerHost),
            Is.EqualTo((100, 10, 20, 4)));
    }

    [Test]
    public void BadValues_AreReportedWithTheirKeys()
    {
        var errors = ConfigurationTestKit.Errors(
            ("Target:Limits:MaxBufferedBytes", "lots"),
            ("Target:Limits:MaxConnectionBufferedBytes", "512KiB"),
            ("Target:Limits:MaxOutstandingR2T", "0"),
            ("Target:Limits:BufferIdleTrim", "00:00:00"),
            ("Target:Limits:MaxConnections", "0"),
            ("Target:Limits:MaxConnectionsPerAddress", "-1"),
            ("Target:Limits:MaxConnectionsPerHost", "1"),
            ("Target:Limits:MaxControllersPerHost", "1"));
        Assert.That(errors, Has.One.StartsWith("Target:Limits:MaxBufferedBytes: must be a size"));
        Assert.That(errors, Does.Contain("Target:Limits:MaxConnectionBufferedBytes: must be at least MaxDataTransferSize (1048576) (was 524288)"));
        Assert.That(errors, Does.Contain("Target:Limits:MaxOutstandingR2T: must be at least 1 (was 0)"));
        Assert.That(errors, Has.One.StartsWith("Target:Limits:BufferIdleTrim: must be greater than zero"));
        Assert.That(errors, Does.Contain("Target:Limits:MaxConnections: must be at least 1 (was 0)"));
        Assert.That(errors, Does.Contain("Target:Limits:MaxConnectionsPerAddress: must be at least 1 (was -1)"));
        Assert.That(errors, Does.Contain("Target:Limits:MaxConnectionsPerHost: must be at least 2 (was 1)"));
        Assert.That(errors, Does.Contain("Target:Limits:MaxControllersPerHost: must be at least 2 (was 1)"));
    }

    [Test]
    public void ProcessBudget_BelowTheConnectionBudget_IsReported() =>
        Assert.That(ConfigurationTestKit.Errors(("Target:Limits:MaxBufferedBytes", "32MiB")),
            Does.Contain("Target:Limits:MaxBufferedBytes: must be at least MaxConnectionBufferedBytes (67108864) (was 33554432)"));
}
