using System.Net;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using NvmeMptls.Target.Configuration;
using NvmeMptls.Target.Hosting;

namespace NvmeMptls.IntegrationTests.Service;

/// <summary>
/// The real <see cref="TargetService"/> in this process, configured from a JSON file through the same sources,
/// options factory and monitor the executable uses (reload-on-change on), listening on free loopback ports.
/// </summary>
public sealed class InProcessTarget : IAsyncDisposable
{
    private readonly ServiceProvider _services;

    private InProcessTarget(ServiceProvider services, TargetService service, string configFile)
    {
        _services = services;
        Service = service;
        ConfigFile = configFile;
    }

    public TargetService Service { get; }

    public string ConfigFile { get; }

    public IPEndPoint IoEndPoint => Service.Server!.Endpoints.First(e => !e.Discovery).EndPoint;

    public Uri MetricsUrl => new(Service.CurrentOptions.Metrics.Url);

    public static Task<InProcessTarget> StartAsync(string configFile, params string[] flags) => StartAsync(configFile, null, flags);

    /// <summary>As <see cref="StartAsync(string, string[])"/>; with <paramref name="capture"/>, every log line at every level also goes to it.</summary>
    public static async Task<InProcessTarget> StartAsync(string configFile, ILoggerProvider? capture, params string[] flags)
    {
        var parsed = TargetCommandLine.Parse(["--config", configFile, .. flags], environment: [], appSettingsDirectory: Path.GetDirectoryName(configFile), reloadOnChange: true);
        Assert.That(parsed.Errors, Is.Empty, "configuration errors");
        var services = new ServiceCollection();
        services.AddLogging(b =>
        {
            b.AddSimpleConsole(o => o.SingleLine = true).SetMinimumLevel(capture is null ? LogLevel.Information : LogLevel.Trace);
            if (capture is not null)
            {
                b.AddProvider(capture);
            }
        });
        services.AddTargetOptions(parsed.Configuration!, parsed.ApplyFlags);
        services.AddSingleton<TargetService>();
        var provider = services.BuildServiceProvider();
        var service = provider.GetRequiredService<TargetService>();
        await service.StartAsync(CancellationToken.None).ConfigureAwait(false);
        return new InProcessTarget(provider, service, configFile);
    }

    /// <summary>A one-subsystem configuration with free ports; <paramref name="namespaces"/> are JSON objects.</summary>
    public static string Config(int ioPort, int metricsPort, string nqn, string namespaces, string grace = "00:00:05") => $$"""
        {
          "Target": {
            "Subsystems": [ { "Nqn": "{{nqn}}", "Namespaces": [ {{namespaces}} ] } ],
            "Ports": [ { "Id": 1, "Address": "127.0.0.1", "Port": {{ioPort}}, "Multipath": "preferred" } ],
            "Metrics": { "Enabled": true, "Url": "http://127.0.0.1:{{metricsPort}}/metrics" },
            "ShutdownGracePeriod": "{{grace}}"
          }
        }
        """;

    public async ValueTask DisposeAsync()
    {
        await Service.StopAsync(CancellationToken.None).ConfigureAwait(false);

        // The provider owns the service and disposes it (devices closed).
        await _services.DisposeAsync().ConfigureAwait(false);
    }
}
