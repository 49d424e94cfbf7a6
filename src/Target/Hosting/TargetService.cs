using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using NvmeMptls.Target.Configuration;

namespace NvmeMptls.Target.Hosting;

/// <summary>The hosted service: builds the registry from the options, starts every port, stops gracefully.</summary>
public sealed partial class TargetService : IHostedService, IAsyncDisposable
{
    private readonly IOptionsMonitor<TargetOptions> _options;
    private readonly ILoggerFactory _loggerFactory;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private NvmeTargetServer? _server;

    public TargetService(IOptionsMonitor<TargetOptions> options, ILoggerFactory loggerFactory, TimeProvider? time = null)
    {
        _options = options;
        _loggerFactory = loggerFactory;
        _logger = loggerFactory.CreateLogger<TargetService>();
        _time = time ?? TimeProvider.System;
    }

    public NvmeTargetServer? Server => _server;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        var options = _options.CurrentValue;
        var registry = TargetBuilder.BuildRegistry(options, _loggerFactory, _time);
        _server = new NvmeTargetServer(registry, _loggerFactory, TargetSecurity.Create(options, _loggerFactory, new TlsHandshakeCounters()));
        foreach (var port in options.Ports)
        {
            _server.StartPort(port);
        }

        foreach (var s in registry.Subsystems)
        {
            foreach (var ns in s.Namespaces)
            {
                Log.NamespaceReady(_logger, s.Nqn, ns.Nsid, ns.Device.Kind, ns.Device.Description, ns.Device.SizeBytes, ns.LbaSize);
            }
        }

        Console.Out.WriteLine(ConnectHint.Describe(options, _server));
        Console.Out.Flush();
        return Task.CompletedTask;
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_server is { } server)
        {
            Log.Stopping(_logger, _options.CurrentValue.ShutdownGracePeriod.TotalSeconds);
            await server.StopAsync(_options.CurrentValue.ShutdownGracePeriod).ConfigureAwait(false);
            Log.Stopped(_logger);
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_server is { } server)
        {
            await server.DisposeAsync().ConfigureAwait(false);
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 4001, Level = LogLevel.Information, Message = "Subsystem {SubsystemNqn} namespace {Nsid}: {Kind} {Description}, {SizeBytes} bytes, {LbaSize}-byte blocks")]
        public static partial void NamespaceReady(ILogger logger, string subsystemNqn, uint nsid, string kind, string description, long sizeBytes, int lbaSize);

        [LoggerMessage(EventId = 4002, Level = LogLevel.Information, Message = "Stopping: no new connections; in-flight I/O has {GraceSeconds} s to finish")]
        public static partial void Stopping(ILogger logger, double graceSeconds);

        [LoggerMessage(EventId = 4003, Level = LogLevel.Information, Message = "Stopped: namespaces flushed, controllers closed")]
        public static partial void Stopped(ILogger logger);
    }
}
