using System.Collections.Concurrent;
using System.Net;
using Microsoft.Extensions.Logging;
using NvmeMptls.Target.Subsystems;
using NvmeMptls.Target.Tcp;
using NvmeMptls.Transport.Connections;
using NvmeMptls.Transport.Multipath;
using NvmeMptls.Transport.Sockets;

namespace NvmeMptls.Target.Server;

/// <summary>
/// Listens on the configured ports (I/O and discovery), accepts connections, runs the optional TLS handshake and
/// serves each connection as a <see cref="TargetQueue"/>. Stopping closes the listeners, lets in-flight commands
/// finish within a grace period, flushes every namespace and closes the controllers.
/// </summary>
public sealed partial class NvmeTargetServer : IAsyncDisposable
{
    private readonly TargetRegistry _registry;
    private readonly ILoggerFactory _loggerFactory;
    private readonly ILogger _logger;
    private readonly List<(StreamListener Listener, TargetPortInfo Port, Task Loop)> _listeners = [];
    private readonly ConcurrentDictionary<TargetQueue, Task> _queues = new();
    private readonly ConcurrentDictionary<TargetQueue, StreamConnection> _transports = new();
    private readonly ConcurrentDictionary<IPAddress, int> _perAddress = new();
    private int _connections;

    // Accepting stops first; the queues are cancelled only after the in-flight grace period.
    private readonly CancellationTokenSource _stopping = new();
    private readonly CancellationTokenSource _queuesStopping = new();

    public NvmeTargetServer(TargetRegistry registry, ILoggerFactory loggerFactory, ConnectionSecurity? security = null, ITargetObserver? metrics = null)
    {
        _registry = registry;
        _loggerFactory = loggerFactory;
        _logger = loggerFactory.CreateLogger("NvmeMptls.Target.Server");
        Security = security;
        Metrics = metrics;
    }

    /// <summary>Where connections and completed commands are counted; null when metrics are off.</summary>
    public ITargetObserver? Metrics { get; }

    /// <summary>Live queues with the accepted (socket-level) connection under each, for sampling at scrape time.</summary>
    public IEnumerable<KeyValuePair<TargetQueue, StreamConnection>> Connections => _transports;

    public TargetRegistry Registry => _registry;

    /// <summary>
    /// Socket buffering of accepted connections: in burst mode the socket's loops run inline with the queue's; the
    /// receive busy-polls when the limits say so.
    /// </summary>
    private SocketConnectionOptions SocketOptions => SocketConnectionOptions.Default with
    {
        InlineReaders = _registry.Limits.SendMode == QueueSendMode.Burst,
        ReceivePoll = _registry.Limits.ReceivePoll,
    };

    /// <summary>
    /// The TLS handshake for ports with TLS (null: TLS ports refuse every connection). The server owns it:
    /// <see cref="DisposeAsync"/> disposes it with the keys it holds.
    /// </summary>
    public ConnectionSecurity? Security { get; }

    public IReadOnlyList<(IPEndPoint EndPoint, bool Discovery, string Carrier)> Endpoints
    {
        get
        {
            var list = new List<(IPEndPoint, bool, string)>();
            lock (_listeners)
            {
                foreach (var (listener, port, _) in _listeners)
                {
                    list.Add((listener.LocalEndPoint, port.IsDiscovery, listener.IsMptcp ? "mptcp" : "tcp"));
                }
            }

            return list;
        }
    }

    public int ActiveConnections => _queues.Count;

    /// <summary>Binds the I/O listener of a port and, when configured, its discovery listener.</summary>
    public void StartPort(PortBinding port)
    {
        var info = port.Info;
        var policy = port.Multipath;
        var io = StreamListener.Bind(port.ListenEndPoint, policy, networkNamespace: port.NetworkNamespace, options: SocketOptions, logger: _loggerFactory.CreateLogger<StreamListener>());
        if (port.ListenEndPoint.Port == 0)
        {
            info = info with { Port = io.LocalEndPoint.Port };
            _registry.AddPort(info);
        }

        Start(io, info);
        if (port.DiscoveryEndPoint is { } d)
        {
            var disc = StreamListener.Bind(d, policy, networkNamespace: port.NetworkNamespace, options: SocketOptions, logger: _loggerFactory.CreateLogger<StreamListener>());

            // The discovery listener is not an I/O port: it is not listed in the discovery log.
            Start(disc, info with { IsDiscovery = true });
        }
    }

    private void Start(StreamListener listener, TargetPortInfo port)
    {
        Log.Listening(_logger, listener.LocalEndPoint, listener.IsMptcp ? "MPTCP" : "TCP", listener.FallbackReason ?? "");
        var loop = Task.Run(() => AcceptLoopAsync(listener, port, _stopping.Token));
        lock (_listeners)
        {
            _listeners.Add((listener, port, loop));
        }
    }

    /// <summary>
    /// Closes the I/O and discovery listeners of port <paramref name="id"/> and drops it from the discovery log.
    /// Connections already accepted on it go on.
    /// </summary>
    public async Task<bool> StopPortAsync(ushort id)
    {
        List<(StreamListener Listener, TargetPortInfo Port, Task Loop)> closing;
        lock (_listeners)
        {
            closing = _listeners.FindAll(l => l.Port.Id == id);
            _listeners.RemoveAll(l => l.Port.Id == id);
        }

        foreach (var (listener, _, loop) in closing)
        {
            await listener.DisposeAsync().ConfigureAwait(false);
            await loop.ConfigureAwait(false);
        }

        _registry.RemovePort(id);
        return closing.Count > 0;
    }

    private async Task AcceptLoopAsync(StreamListener listener, TargetPortInfo port, CancellationToken ct)
    {
        // Read before any await: DisposeAsync disposes the source, and a loop may still be ending then.
        var queuesStopping = _queuesStopping.Token;
        while (!ct.IsCancellationRequested)
        {
            SocketConnection connection;
            try
            {
                connection = await listener.AcceptAsync(ct).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            catch (Exception ex) when (ex is IOException or System.Net.Sockets.SocketException or ObjectDisposedException)
            {
                if (ct.IsCancellationRequested)
                {
                    return;
                }

                Log.AcceptFailed(_logger, listener.LocalEndPoint, ex.Message);
                await Task.Delay(100, ct).ConfigureAwait(false);
                continue;
            }

            if (!TryAdmit(connection, out var address))
            {
                continue;
            }

            _ = ServeAndCountAsync(connection, address, port, queuesStopping);
        }
    }

    /// <summary>Connections served now, from accept to close (including those still in ICReq or the TLS handshake).</summary>
    public int OpenConnections => Volatile.Read(ref _connections);

    /// <summary>
    /// Applies Target:Limits:MaxConnections and MaxConnectionsPerAddress at accept. Over a cap the connection is closed
    /// at once, before ICReq: no protocol state exists yet to answer with (a C2HTermReq needs an ICReq, a Connect
    /// status a Connect), and a refusal that costs no buffer, timer or parse is what a flood needs. Linux nvmet has no
    /// such cap (its only bound is the listen backlog); a Linux host sees the close as a failed connect and retries
    /// after its reconnect delay.
    /// </summary>
    private bool TryAdmit(SocketConnection connection, out IPAddress? address)
    {
        var limits = _registry.Limits;
        address = (connection.RemoteEndPoint as IPEndPoint)?.Address;
        if (Interlocked.Increment(ref _connections) > limits.MaxConnections)
        {
            Interlocked.Decrement(ref _connections);
            Refuse(connection, LimitKind.Connections, $"{limits.MaxConnections} connections already open (Target:Limits:MaxConnections)");
            address = null;
            return false;
        }

        if (address is not null && _perAddress.AddOrUpdate(address, 1, static (_, n) => n + 1) > limits.MaxConnectionsPerAddress)
        {
            Release(address);
            Interlocked.Decrement(ref _connections);
            Refuse(connection, LimitKind.ConnectionsPerAddress, $"{limits.MaxConnectionsPerAddress} connections already open from {address} (Target:Limits:MaxConnectionsPerAddress)");
            address = null;
            return false;
        }

        return true;
    }

    private void Refuse(SocketConnection connection, LimitKind limit, string detail)
    {
        Interlocked.Increment(ref _registry.Counters.LimitsReached[(int)limit]);
        Log.ConnectionRefused(_logger, connection.RemoteEndPoint, detail);
        connection.Abort(new IOException(detail));
        _ = connection.DisposeAsync().AsTask();
    }

    private void Release(IPAddress address)
    {
        while (_perAddress.TryGetValue(address, out var n))
        {
            if (n <= 1 ? _perAddress.TryRemove(KeyValuePair.Create(address, n)) : _perAddress.TryUpdate(address, n - 1, n))
            {
                return;
            }
        }
    }

    private async Task ServeAndCountAsync(StreamConnection connection, IPAddress? address, TargetPortInfo port, CancellationToken ct)
    {
        try
        {
            await ServeAsync(connection, port, ct).ConfigureAwait(false);
        }
        finally
        {
            if (address is not null)
            {
                Release(address);
            }

            Interlocked.Decrement(ref _connections);
        }
    }

    private async Task ServeAsync(StreamConnection connection, TargetPortInfo port, CancellationToken ct)
    {
        StreamConnection? secured = connection;
        try
        {
            secured = await SecureAsync(connection, port, ct).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            Log.SecureFailed(_logger, connection.RemoteEndPoint, ex.Message);
            secured = null;
        }

        if (secured is null)
        {
            // Close gracefully: a refused handshake has just queued its fatal alert, and an abort (RST) would
            // discard it before it is sent, leaving the host with "connection reset" instead of the reason.
            // DisposeAsync flushes within a bound and aborts on its own if the peer does not drain.
            await connection.DisposeAsync().ConfigureAwait(false);
            return;
        }

        var queue = new TargetQueue(secured, _registry, port, _loggerFactory.CreateLogger<TargetQueue>()) { Metrics = Metrics };
        Metrics?.ConnectionAccepted(port, TransportModeOf(connection));
        _transports[queue] = connection;
        if (secured is NvmeMptls.Transport.Tls.TlsRecordConnection tls)
        {
            // Reconnect-before-limit: close the queue; the host reconnects with fresh keys and retries.
            // The abort completes on its own (it cancels and closes); the event handler does not wait for it.
            tls.KeyLimitApproaching += _ => queue.AbortAsync(ConnectionEndReason.TlsKeyLimit, "TLS write key reached its record limit; host reconnects with new keys").ContinueWith(
                static _ => { }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        }

        var run = queue.RunAsync(ct);
        _queues[queue] = run;
        try
        {
            await run.ConfigureAwait(false);
        }
        finally
        {
            _queues.TryRemove(queue, out _);
            _transports.TryRemove(queue, out _);
            Metrics?.ConnectionClosed(port, queue.EndReason ?? ConnectionEndReason.Aborted);
            if (Metrics is not null && secured is NvmeMptls.Transport.Tls.TlsRecordConnection closedTls)
            {
                Metrics.TlsConnectionClosed(closedTls.RecordsSealed, closedTls.RecordsOpened, closedTls.KeyUpdatesSent, closedTls.KeyUpdatesReceived);
            }
        }
    }

    /// <summary>Applies the port's TLS mode. Returns null when the connection must be dropped.</summary>
    private async ValueTask<StreamConnection?> SecureAsync(StreamConnection connection, TargetPortInfo port, CancellationToken ct)
    {
        if (port.Tls == PortTlsMode.None)
        {
            return connection;
        }

        if (await FirstBytesLookPlainAsync(connection, ct).ConfigureAwait(false) is not { } plain)
        {
            return null;
        }

        if (port.Tls == PortTlsMode.Optional && plain)
        {
            return connection;
        }

        if (port.Tls == PortTlsMode.Required && plain)
        {
            // A plaintext ICReq on a TLS-required port: refused and counted, the connection is closed.
            Security?.Counters.Count("plaintext-refused");
            Metrics?.TlsHandshake(false, "plaintext");
            Interlocked.Increment(ref _registry.Counters.ConnectRejected);
            Log.SecureFailed(_logger, connection.RemoteEndPoint, "plaintext ICReq on a port that requires TLS");
            return null;
        }

        if (Security is null)
        {
            Interlocked.Increment(ref _registry.Counters.ConnectRejected);
            Log.SecureFailed(_logger, connection.RemoteEndPoint, "TLS is required on this port but no TLS keys are configured");
            return null;
        }

        return await Security.AcceptAsync(connection, port, ct).ConfigureAwait(false);
    }

    /// <summary>
    /// Peeks at the first bytes of a connection on a TLS port (plain ICReq or not) within the ICReq deadline from
    /// accept, so a peer that sends nothing, or fewer bytes than decide, is not held until the handshake timer would
    /// start. Null: the deadline passed (counted, logged) and the connection is to be dropped.
    /// </summary>
    private async ValueTask<bool?> FirstBytesLookPlainAsync(StreamConnection connection, CancellationToken ct)
    {
        var limit = _registry.Limits.IcReqTimeout;
        using var deadline = new CancellationTokenSource(limit, _registry.Time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(ct, deadline.Token);
        try
        {
            return await ConnectionSecurity.LooksLikePlainIcReqAsync(connection, linked.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (deadline.IsCancellationRequested && !ct.IsCancellationRequested)
        {
            Interlocked.Increment(ref _registry.Counters.SetupTimeouts[(int)SetupPhase.IcReq]);
            Log.SecureFailed(_logger, connection.RemoteEndPoint, $"no ICReq or TLS ClientHello within {limit.TotalSeconds:0.###} s of accept");
            return null;
        }
    }

    /// <summary>
    /// Graceful stop: close the listeners; give in-flight commands <paramref name="grace"/> to finish while the
    /// connections stay up (so their completions reach the hosts); then close every connection (a host sees a
    /// transport error, which it retries, for anything still outstanding), wait for the queues to end so no device
    /// operation is left running, flush every namespace and close the controllers.
    /// </summary>
    public async Task StopAsync(TimeSpan grace)
    {
        if (_stopping.IsCancellationRequested)
        {
            return;
        }

        await _stopping.CancelAsync().ConfigureAwait(false);
        List<(StreamListener Listener, TargetPortInfo Port, Task Loop)> listeners;
        lock (_listeners)
        {
            listeners = [.. _listeners];
            _listeners.Clear();
        }

        foreach (var (listener, _, _) in listeners)
        {
            await listener.DisposeAsync().ConfigureAwait(false);
        }

        var start = _registry.Time.GetTimestamp();
        while (_registry.Time.GetElapsedTime(start) < grace && InFlightCommands() > 0)
        {
            await Task.Delay(20).ConfigureAwait(false);
        }

        Log.Draining(_logger, InFlightCommands(), _queues.Count);
        await _queuesStopping.CancelAsync().ConfigureAwait(false);
        foreach (var q in _queues.Keys)
        {
            await q.AbortAsync(ConnectionEndReason.ServerStopping, "target shutting down").ConfigureAwait(false);
        }

        try
        {
            await Task.WhenAll(_queues.Values).WaitAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            Log.QueuesNotEnded(_logger, _queues.Count);
        }

        foreach (var s in _registry.Subsystems)
        {
            foreach (var ns in s.Namespaces)
            {
                if (ns.Removed)
                {
                    continue;
                }

                try
                {
                    await ns.Device.FlushAsync().ConfigureAwait(false);
                }
                catch (Exception ex)
                {
                    Log.FlushFailed(_logger, s.Nqn, ns.Nsid, ex.Message);
                }
            }

            foreach (var c in s.Controllers)
            {
                await c.CloseAsync("target shutting down").ConfigureAwait(false);
            }
        }

        foreach (var c in _registry.Discovery.Controllers)
        {
            await c.CloseAsync("target shutting down").ConfigureAwait(false);
        }
    }

    private static TransportMode TransportModeOf(StreamConnection connection)
    {
        try
        {
            return connection.GetMultipathStatus()?.Mode ?? TransportMode.None;
        }
        catch (Exception ex) when (ex is ObjectDisposedException or System.Net.Sockets.SocketException or InvalidOperationException)
        {
            return TransportMode.None;
        }
    }

    private int InFlightCommands()
    {
        var n = 0;
        foreach (var q in _queues.Keys)
        {
            n += q.InFlight;
        }

        return n;
    }

    public async ValueTask DisposeAsync()
    {
        if (!_stopping.IsCancellationRequested)
        {
            await StopAsync(TimeSpan.Zero).ConfigureAwait(false);
        }

        foreach (var s in _registry.Subsystems)
        {
            foreach (var ns in s.Namespaces)
            {
                await ns.Device.DisposeAsync().ConfigureAwait(false);
            }
        }

        Security?.Dispose();
        _registry.Buffers.Dispose();
        _stopping.Dispose();
        _queuesStopping.Dispose();
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 3001, Level = LogLevel.Information, Message = "Listening on {EndPoint} ({Carrier}) {FallbackReason}")]
        public static partial void Listening(ILogger logger, IPEndPoint endPoint, string carrier, string fallbackReason);

        [LoggerMessage(EventId = 3002, Level = LogLevel.Warning, Message = "Accept on {EndPoint} failed: {Detail}")]
        public static partial void AcceptFailed(ILogger logger, IPEndPoint endPoint, string detail);

        [LoggerMessage(EventId = 3003, Level = LogLevel.Warning, Message = "Connection {Remote} refused before NVMe/TCP: {Detail}")]
        public static partial void SecureFailed(ILogger logger, EndPoint? remote, string detail);

        [LoggerMessage(EventId = 3004, Level = LogLevel.Error, Message = "Flush of {SubsystemNqn} namespace {Nsid} failed at shutdown: {Detail}")]
        public static partial void FlushFailed(ILogger logger, string subsystemNqn, uint nsid, string detail);

        [LoggerMessage(EventId = 3005, Level = LogLevel.Information, Message = "Closing connections: {InFlight} command(s) still in flight on {Connections} connection(s)")]
        public static partial void Draining(ILogger logger, int inFlight, int connections);

        [LoggerMessage(EventId = 3007, Level = LogLevel.Debug, Message = "Connection {Remote} refused at accept: {Detail}")]
        public static partial void ConnectionRefused(ILogger logger, EndPoint? remote, string detail);

        [LoggerMessage(EventId = 3006, Level = LogLevel.Warning, Message = "{Connections} connection(s) did not end within 5 s of being closed")]
        public static partial void QueuesNotEnded(ILogger logger, int connections);
    }
}
