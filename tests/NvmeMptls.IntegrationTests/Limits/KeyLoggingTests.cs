using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using NvmeMptls.Crypto.Auth;
using NvmeMptls.Crypto.Psk;
using NvmeMptls.Initiator;
using NvmeMptls.IntegrationTests.Service;
using NvmeMptls.IntegrationTests.TestKit;

namespace NvmeMptls.IntegrationTests.Limits;

/// <summary>
/// Keys are never logged: the real service with a TLS PSK and DH-HMAC-CHAP secrets read from key files (mode 600),
/// every log line captured at Trace level while hosts connect with the right keys and with wrong ones, and the
/// captured text searched for each key's interchange string and its base64 body.
/// </summary>
[TestFixture]
[NonParallelizable]
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class KeyLoggingTests
{
    private const string Nqn = "nqn.2026-01.io.nvmemptls:keylog-test";
    private const string HostNqn = "nqn.2014-08.org.nvmexpress:uuid:00000000-7e57-4000-8000-0000000c0de5";
    private string _dir = "";

    [SetUp]
    public void SetUp() => _dir = Directory.CreateTempSubdirectory("nvmemptls-keylog-").FullName;

    [TearDown]
    public void TearDown() => Directory.Delete(_dir, recursive: true);

    [Test]
    public async Task TlsAndDhChapKeys_FromKeyFiles_NeverAppearInTheLog_WithRightOrWrongKeys()
    {
        using var psk = ConfiguredPsk.Generate(NvmePskHash.Sha256);
        using var wrongPsk = ConfiguredPsk.Generate(NvmePskHash.Sha256);
        using var hostSecret = DhChapSecret.Generate(1, 32, HostNqn);
        using var controllerSecret = DhChapSecret.Generate(2, 48, Nqn);
        using var wrongSecret = DhChapSecret.Generate(0, 32, null);
        string tlsKey = psk.ToInterchange();
        string tlsKeyFile = KeyFile("tls.key", tlsKey);
        string hostFile = KeyFile("host.secret", hostSecret.ToInterchange());
        string controllerFile = KeyFile("ctrl.secret", controllerSecret.ToInterchange());
        int port = TargetProcess.FreePort();
        var config = Path.Combine(_dir, "target.json");
        await File.WriteAllTextAsync(config, $$"""
            {
              "Target": {
                "Subsystems": [ { "Nqn": "{{Nqn}}", "Namespaces": [ { "Nsid": 1, "Backing": "memory", "Size": "16MiB" } ] } ],
                "Ports": [ { "Id": 1, "Address": "127.0.0.1", "Port": {{port}}, "Multipath": "disabled", "Tls": "optional" } ],
                "Tls": { "Keys": [ { "KeyFile": "{{tlsKeyFile}}" } ] },
                "DhChap": { "Hosts": [ { "HostNqn": "{{HostNqn}}", "SecretFile": "{{hostFile}}", "ControllerSecretFile": "{{controllerFile}}" } ] },
                "Metrics": { "Enabled": false }
              }
            }
            """);
        using var capture = new CapturingLoggerProvider();
        await using (var target = await InProcessTarget.StartAsync(config, capture))
        {
            var plain = NvmeControllerOptions.Default with
            {
                TargetPort = port,
                SubsystemNqn = Nqn,
                HostNqn = HostNqn,
                IoQueueCount = 1,
                Multipath = NvmeMultipathPolicy.Disabled,
                ControllerLossTimeout = TimeSpan.Zero,
            };
            await using (var tls = await NvmeController.ConnectAsync(plain with { Tls = true, TlsKey = tlsKey }))
            {
                var ns = await tls.OpenNamespaceAsync(1);
                await ns.WriteAsync(0, new byte[4096]);
            }

            await using (var chap = await NvmeController.ConnectAsync(plain with { DhChapSecret = hostSecret.ToInterchange(), DhChapControllerSecret = controllerSecret.ToInterchange() }))
            {
                var ns = await chap.OpenNamespaceAsync(1);
                await ns.ReadAsync(0, new byte[4096]);
            }

            Assert.CatchAsync(async () => await NvmeController.ConnectAsync(plain with { Tls = true, TlsKey = wrongPsk.ToInterchange() }), "a wrong PSK connected");
            Assert.CatchAsync(async () => await NvmeController.ConnectAsync(plain with { DhChapSecret = wrongSecret.ToInterchange() }), "a wrong DH-HMAC-CHAP secret connected");
        }

        string log = capture.Text;
        await TestContext.Out.WriteLineAsync($"{capture.Count} log lines captured ({log.Length} characters)");
        Assert.That(capture.Count, Is.GreaterThan(20), "the capture saw too little to prove anything");
        Assert.That(log, Does.Contain(HostNqn), "the capture holds the connections' log lines");
        foreach (var (name, key) in new[] { ("TLS PSK", tlsKey), ("host secret", hostSecret.ToInterchange()), ("controller secret", controllerSecret.ToInterchange()) })
        {
            var body = key.Split(':')[2];
            Assert.That(log, Does.Not.Contain(key), $"{name} interchange string logged");
            Assert.That(log, Does.Not.Contain(body), $"{name} base64 body logged");
            Assert.That(log, Does.Not.Contain(body[..16]), $"{name} base64 prefix logged");
        }
    }

    private string KeyFile(string name, string contents)
    {
        var path = Path.Combine(_dir, name);
        File.WriteAllText(path, contents + "\n");
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        return path;
    }

    /// <summary>Keeps every formatted message, exception and structured value logged, at every level.</summary>
    private sealed class CapturingLoggerProvider : ILoggerProvider
    {
        private readonly ConcurrentQueue<string> _lines = new();

        public int Count => _lines.Count;

        public string Text => string.Join("\n", _lines);

        public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

        public void Dispose()
        {
        }

        private sealed class Logger(CapturingLoggerProvider owner, string category) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state)
                where TState : notnull
            {
                owner._lines.Enqueue($"scope {category}: {state}");
                return null;
            }

            public bool IsEnabled(LogLevel logLevel) => true;

            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
            {
                var values = state is IEnumerable<KeyValuePair<string, object?>> pairs ? string.Join(" ", pairs.Select(p => $"{p.Key}={p.Value}")) : "";
                owner._lines.Enqueue($"{logLevel} {category} {eventId.Id}: {formatter(state, exception)} [{values}] {exception}");
            }
        }
    }
}
