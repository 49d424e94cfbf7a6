using NvmeMptls.IntegrationTests.TestKit;

namespace NvmeMptls.IntegrationTests.Service;

/// <summary>Each class of configuration mistake stops the real executable with a non-zero code and the key named.</summary>
[TestFixture]
[NonParallelizable]
public sealed class InvalidConfigurationTests
{
    private static readonly object[] s_cases =
    [
        new object[] { "bad LBA size", """{ "Target": { "Subsystems": [ { "Nqn": "nqn.2026-01.io.example:a", "Namespaces": [ { "Size": "1MiB", "LbaSize": 1000 } ] } ] } }""", "Target:Subsystems:0:Namespaces:0:LbaSize" },
        new object[] { "bad NQN", """{ "Target": { "Subsystems": [ { "Nqn": "not-an-nqn", "Namespaces": [ { "Size": "1MiB" } ] } ] } }""", "Target:Subsystems:0:Nqn" },
        new object[] { "file without path", """{ "Target": { "Subsystems": [ { "Nqn": "nqn.2026-01.io.example:a", "Namespaces": [ { "Backing": "file" } ] } ] } }""", "Target:Subsystems:0:Namespaces:0:Path" },
        new object[] { "bad port number", """{ "Target": { "Ports": [ { "Port": 70000 } ] } }""", "Target:Ports:0:Port" },
        new object[] { "TLS required without keys", """{ "Target": { "Ports": [ { "Port": 4420, "Tls": "required" } ] } }""", "Target:Ports:0:Tls" },
        new object[] { "bad metrics URL", """{ "Target": { "Metrics": { "Url": "ftp://x/metrics" } } }""", "Target:Metrics:Url" },
        new object[] { "bad enum", """{ "Target": { "Ports": [ { "Port": 4420, "Multipath": "sometimes" } ] } }""", "Target:Ports:0:Multipath" },
        new object[] { "negative grace", """{ "Target": { "ShutdownGracePeriod": "-00:00:01" } }""", "Target:ShutdownGracePeriod" },
    ];

    [TestCaseSource(nameof(s_cases))]
    public async Task InvalidConfiguration_ExitsNonZeroNamingTheKey(string mistake, string json, string key)
    {
        var dir = Directory.CreateTempSubdirectory("nvmemptls-badconfig-").FullName;
        try
        {
            var config = Path.Combine(dir, "target.json");
            await File.WriteAllTextAsync(config, json);
            await using var target = TargetProcess.Start(["--config", config]);
            var exit = await target.WaitForExitAsync(TimeSpan.FromSeconds(60));
            Assert.That(exit, Is.Not.Zero, mistake);
            Assert.That(target.StandardError, Does.Contain(key), $"{mistake}: stderr was\n{target.StandardError}");
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Test]
    public async Task UnknownFlag_ExitsWithCode2()
    {
        await using var target = TargetProcess.Start(["--no-such-flag"]);
        var exit = await target.WaitForExitAsync(TimeSpan.FromSeconds(60));
        Assert.That(exit, Is.EqualTo(2));
        Assert.That(target.StandardError, Does.Contain("--no-such-flag"));
    }

    [Test]
    public async Task MetricsPortInUse_ExitsNonZeroWithReason()
    {
        using var busy = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        busy.Start();
        var port = ((System.Net.IPEndPoint)busy.LocalEndpoint).Port;
        await using var target = TargetProcess.Start(["--listen", $"127.0.0.1:{TargetProcess.FreePort()}", "--discovery", "none", "--metrics", $"http://127.0.0.1:{port}/metrics"]);
        var exit = await target.WaitForExitAsync(TimeSpan.FromSeconds(60));
        Assert.That(exit, Is.Not.Zero);
        Assert.That(target.StandardError, Does.Contain("cannot start"));
    }

    [Test]
    public async Task DamagedReservationStateFile_ExitsNonZeroNamingTheFile()
    {
        var dir = Directory.CreateTempSubdirectory("nvmemptls-badresv-").FullName;
        try
        {
            var state = Path.Combine(dir, "ns1.resv");
            await File.WriteAllTextAsync(state, "garbage\nptpl 7\n");
            var config = Path.Combine(dir, "target.json");
            await File.WriteAllTextAsync(config, $$"""
                { "Target": { "Ports": [ { "Port": {{TargetProcess.FreePort()}}, "Address": "127.0.0.1" } ], "Metrics": { "Enabled": false },
                  "Subsystems": [ { "Nqn": "nqn.2026-01.io.example:a", "Namespaces": [ { "Size": "1MiB", "ReservationStateFile": "{{state}}" } ] } ] } }
                """);
            await using var target = TargetProcess.Start(["--config", config]);
            var exit = await target.WaitForExitAsync(TimeSpan.FromSeconds(60));
            Assert.That(exit, Is.EqualTo(1));
            Assert.That(target.StandardError, Does.Contain("cannot start").And.Contain(state), $"stderr was\n{target.StandardError}");
            Assert.That(target.StandardError, Does.Not.Contain("Unhandled exception"));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
