using System.Collections.Immutable;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using NvmeMptls.Target.Configuration;
using NvmeMptls.Target.Gateway;
using NvmeMptls.Target.Metrics;
using NvmeMptls.Target.Server;

namespace NvmeMptls.Target.Hosting;

/// <summary>
/// The hosted service: builds the registry from the options, starts every port and the metrics endpoint, applies
/// configuration changes while running (see <see cref="TargetReconfiguration"/>) and stops gracefully.
/// </summary>
public sealed partial class TargetService : IHostedService, IAsyncDisposable
{
    private readonly IOptionsMonitor<TargetOptions> _options;
    private readonly ILoggerFactory _loggerFactory;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly SemaphoreSlim _applying = new(1, 1);
    private NvmeTargetServer? _server;
    private MetricsEndpoint? _metricsEndpoint;
    private GatewayControlEndpoint? _gatewayControl;
    private IDisposable? _onChange;
    private TargetOptions? _current;
    private bool _stopped;

    public TargetService(IOptionsMonitor<TargetOptions> options, ILoggerFactory loggerFactory, TimeProvider? time = null)
    {
        _options = options;
        _loggerFactory = loggerFactory;
        _logger = loggerFactory.CreateLogger<TargetService>();
        _time = time ?? TimeProvider.System;
    }

    public NvmeTargetServer? Server => _server;

    /// <summary>The metric families (null until started, or when <c>Metrics:Enabled</c> is false).</summary>
    public TargetMetrics? Metrics { get; private set; }

    /// <summary>The gateway group side of this target (null when Target:Gateway is not configured).</summary>
    public GatewayCoordinator? Gateway { get; private set; }

    /// <summary>The options in force: those at start-up, then each applied change.</summary>
    public TargetOptions CurrentOptions => _current ?? _options.CurrentValue;

    /// <summary>Raised after a configuration change was applied, with the options now in force.</summary>
    public event Action<TargetOptions>? OptionsApplied;

    /// <summary>
    /// Raised when the configured PSKs change (added, removed or rebound), with the full new list, for the TLS
    /// layer to swap its key store; connections already established keep their session.
    /// </summary>
    public event Action<ImmutableArray<TlsKeyOptions>>? TlsKeysChanged;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var options = _options.CurrentValue;
        _current = options;
        var registry = TargetBuilder.BuildRegistry(options, _loggerFactory, _time);
        Metrics = options.Metrics.Enabled ? new TargetMetrics() : null;
        _server = new NvmeTargetServer(registry, _loggerFactory, TargetSecurity.Create(options, _loggerFactory, new TlsHandshakeCounters(), Metrics, registry.GeneratedPsks), Metrics);
        if (options.Gateway is { } gateway)
        {
            // Before any port accepts a connection: the managed groups start as standby until a lease says otherwise.
            Gateway = GatewayHosting.Create(gateway, registry, _loggerFactory, _time);
            Gateway.ApplyToPorts();
            registry.PeerPorts = GatewayHosting.PeerPorts(gateway);
            Log.GatewayStarting(_logger, gateway.Group, gateway.Name, string.Join(",", gateway.AnaGroups.Select(g => g.Id)), gateway.LeaseDuration.TotalSeconds);
        }

        foreach (var port in options.Ports)
        {
            _server.StartPort(TargetBuilder.ToBinding(port));
            WarnAboutPaths(port);
        }

        Subflows = new SubflowMonitor(_server, _loggerFactory.CreateLogger<SubflowMonitor>(), _time);
        if (Gateway is not null)
        {
            // Ports started with ephemeral numbers registered themselves: give them the managed groups' states too.
            Gateway.Start();
            _gatewayControl = GatewayControlEndpoint.Start(options.Metrics.Url, Gateway, () => CurrentOptions.Gateway ?? options.Gateway!,
                _loggerFactory.CreateLogger<GatewayControlEndpoint>());
            Log.GatewayControl(_logger, _gatewayControl.Prefix.ToString());
        }

        if (Metrics is not null)
        {
            _ = new ScrapeSampler(Metrics, _server);
            if (Gateway is not null)
            {
                _ = new GatewayMetrics(Metrics, Gateway);
            }

            _metricsEndpoint = MetricsEndpoint.Start(options.Metrics.Url, Metrics.Registry);
            Log.MetricsServing(_logger, options.Metrics.Url);
        }

        foreach (var s in registry.Subsystems)
        {
            foreach (var ns in s.Namespaces)
            {
                Log.NamespaceReady(_logger, s.Nqn, ns.Nsid, ns.Device.Kind, ns.Device.Description, ns.Device.SizeBytes, ns.LbaSize);
            }
        }

        _onChange = _options.OnChange(OnOptionsChanged);
        await Console.Out.WriteLineAsync(ConnectHint.Describe(options, _server)).ConfigureAwait(false);
        await Console.Out.FlushAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Applies the difference between the options in force and <paramref name="next"/>; changes are applied one at a time.</summary>
    public async Task ApplyAsync(TargetOptions next)
    {
        await _applying.WaitAsync().ConfigureAwait(false);
        try
        {
            if (_server is not { } server || _stopped)
            {
                return;
            }

            var previous = CurrentOptions;
            if (previous == next)
            {
                return;
            }

            var reconfiguration = new TargetReconfiguration(server, _loggerFactory, _logger, Gateway);
            await reconfiguration.ApplyAsync(previous, next).ConfigureAwait(false);
            _current = next;
            if (!previous.Tls.Keys.SequenceEqual(next.Tls.Keys))
            {
                Log.TlsKeysChanged(_logger, next.Tls.Keys.Length);
                TlsKeysChanged?.Invoke(next.Tls.Keys);
            }

            OptionsApplied?.Invoke(next);
        }
        finally
        {
            _applying.Release();
        }
    }

    private void OnOptionsChanged(TargetOptions next, string? name)
    {
        _ = ApplyLoggedAsync(next);
    }

    private async Task ApplyLoggedAsync(TargetOptions next)
    {
        try
        {
            await ApplyAsync(next).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            Log.ReloadFailed(_logger, ex.Message);
        }
    }

    /// <summary>Reads the MPTCP path-manager state and says plainly when the expected paths cannot be reached.</summary>
    private void WarnAboutPaths(PortOptions port)
    {
        if (port.Multipath == MultipathMode.Disabled)
        {
            return;
        }

        var state = NvmeMptls.Transport.Multipath.PathManagerState.Read(port.NetworkNamespace);
        foreach (var warning in state.WarningsFor(port.ExpectedPaths))
        {
            Log.PathWarning(_logger, port.Id, port.ExpectedPaths, warning);
        }
    }

    /// <summary>Per-connection MPTCP subflow state, logged as subflows come and go.</summary>
    public SubflowMonitor? Subflows { get; private set; }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        Subflows?.Dispose();
        _onChange?.Dispose();
        await _applying.WaitAsync(CancellationToken.None).ConfigureAwait(false);
        try
        {
            _stopped = true;
        }
        finally
        {
            _applying.Release();
        }

        await StopGatewayAsync().ConfigureAwait(false);
        if (_server is { } server)
        {
            var grace = CurrentOptions.ShutdownGracePeriod;
            Log.Stopping(_logger, grace.TotalSeconds);
            await server.StopAsync(grace).ConfigureAwait(false);
            Log.Stopped(_logger);
        }

        if (_metricsEndpoint is { } endpoint)
        {
            _metricsEndpoint = null;
            await endpoint.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>A stopping owner hands its groups to another member (no fencing, no wait for the lease to expire).</summary>
    private async Task StopGatewayAsync()
    {
        if (_gatewayControl is { } control)
        {
            _gatewayControl = null;
            await control.DisposeAsync().ConfigureAwait(false);
        }

        if (Gateway is { } gateway && CurrentOptions.Gateway is { } options)
        {
            if (options.Members.Select(m => m.Name).FirstOrDefault(n => n != options.Name) is { } other)
            {
                var (_, detail) = await gateway.DrainAsync(other).ConfigureAwait(false);
                Log.GatewayDrained(_logger, detail);
            }

            await gateway.DisposeAsync().ConfigureAwait(false);
            Gateway = null;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await StopGatewayAsync().ConfigureAwait(false);
        if (_gatewayControl is not null)
        {
            await _gatewayControl.DisposeAsync().ConfigureAwait(false);
        }

        Subflows?.Dispose();
        _onChange?.Dispose();
        if (_metricsEndpoint is not null)
        {
            await _metricsEndpoint.DisposeAsync().ConfigureAwait(false);
            _metricsEndpoint = null;
        }

        if (_server is not null)
        {
            await _server.DisposeAsync().ConfigureAwait(false);
        }

        _applying.Dispose();
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 5122, Level = LogLevel.Information, Message = "Gateway group {Group}: this is member {Gateway}, managing ANA groups {AnaGroups} with {LeaseSeconds} s leases")]
        public static partial void GatewayStarting(ILogger logger, string group, string gateway, string anaGroups, double leaseSeconds);

        [LoggerMessage(EventId = 5123, Level = LogLevel.Information, Message = "Gateway control on {Prefix} (status, move, drain)")]
        public static partial void GatewayControl(ILogger logger, string prefix);

        [LoggerMessage(EventId = 5124, Level = LogLevel.Information, Message = "Stopping: {Detail}")]
        public static partial void GatewayDrained(ILogger logger, string detail);

        [LoggerMessage(EventId = 5010, Level = LogLevel.Warning, Message = "Port {PortId}: {ExpectedPaths} path(s) expected but {Warning}")]
        public static partial void PathWarning(ILogger logger, int portId, int expectedPaths, string warning);

        [LoggerMessage(EventId = 5001, Level = LogLevel.Information, Message = "Subsystem {SubsystemNqn} namespace {Nsid}: {Kind} {Description}, {SizeBytes} bytes, {LbaSize}-byte blocks")]
        public static partial void NamespaceReady(ILogger logger, string subsystemNqn, uint nsid, string kind, string description, long sizeBytes, int lbaSize);

        [LoggerMessage(EventId = 5002, Level = LogLevel.Information, Message = "Stopping: no new connections; in-flight I/O has {GraceSeconds} s to finish")]
        public static partial void Stopping(ILogger logger, double graceSeconds);

        [LoggerMessage(EventId = 5003, Level = LogLevel.Information, Message = "Stopped: namespaces flushed, controllers closed")]
        public static partial void Stopped(ILogger logger);

        [LoggerMessage(EventId = 5004, Level = LogLevel.Information, Message = "Serving Prometheus metrics on {Url}")]
        public static partial void MetricsServing(ILogger logger, string url);

        [LoggerMessage(EventId = 5005, Level = LogLevel.Information, Message = "TLS keys changed: {Count} key(s) configured; new handshakes use them")]
        public static partial void TlsKeysChanged(ILogger logger, int count);

        [LoggerMessage(EventId = 5006, Level = LogLevel.Error, Message = "Applying the configuration change failed part-way: {Detail}")]
        public static partial void ReloadFailed(ILogger logger, string detail);
    }
}
