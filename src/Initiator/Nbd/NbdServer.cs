using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using NvmeMptls.Initiator;

namespace NvmeMptls.Initiator.Nbd;

/// <summary>
/// Serves one NVMe namespace as an NBD export on a Unix socket or loopback TCP. Connection <c>n</c> uses
/// <c>devices[n % devices.Count]</c>, so clients that open several connections (nbdcopy, qemu, nbdfuse -C)
/// spread over several NVMe I/O queues. All devices must be the same namespace.
/// </summary>
public sealed class NbdServer : IAsyncDisposable
{
    private readonly NbdServerOptions _options;
    private readonly IReadOnlyList<INamespaceDevice> _devices;
    private readonly ILogger _logger;
    private readonly NbdExportInfo _export;
    private readonly NbdBlockIo _blockIo = new();
    private readonly Dictionary<NbdConnection, Task> _connections = new();
    private readonly CancellationTokenSource _stopping = new();
    private Socket? _listener;
    private Task? _acceptLoop;
    private long _accepted;
    private int _stopped;

    public NbdServer(NbdServerOptions options, IReadOnlyList<INamespaceDevice> devices, ILogger? logger = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(devices);
        options.Validate();
        if (devices.Count == 0)
        {
            throw new ArgumentException("at least one device is needed", nameof(devices));
        }

        var first = devices[0];
        for (var i = 1; i < devices.Count; i++)
        {
            if (devices[i].LbaSize != first.LbaSize || devices[i].BlockCount != first.BlockCount)
            {
                throw new ArgumentException("all devices must be the same namespace (LBA size and block count differ)", nameof(devices));
            }
        }

        _options = options;
        _devices = devices;
        _logger = logger ?? NullLogger.Instance;
        _export = new NbdExportInfo(
            options.ExportName,
            options.Description,
            first.BlockCount * (ulong)first.LbaSize,
            first.LbaSize,
            options.MaxRequestBytes,
            options.ReadOnly,
            options.MultiConn);
    }

    /// <summary>Where the server listens once started (a <see cref="UnixDomainSocketEndPoint"/> or an <see cref="IPEndPoint"/>).</summary>
    public EndPoint? EndPoint => _listener?.LocalEndPoint;

    /// <summary>Export size in bytes.</summary>
    public ulong Size => _export.Size;

    public long AcceptedConnections => Interlocked.Read(ref _accepted);

    public Task StartAsync(CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        if (_listener is not null)
        {
            throw new InvalidOperationException("the NBD server is already started");
        }

        Socket listener;
        if (_options.SocketPath is { } path)
        {
            RemoveStaleSocket(path);
            listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            listener.Bind(new UnixDomainSocketEndPoint(path));
        }
        else
        {
            listener = new Socket(_options.BindAddress.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
            listener.Bind(new IPEndPoint(_options.BindAddress, _options.Port ?? 0));
        }

        listener.Listen(64);
        _listener = listener;
        NbdLog.Listening(_logger, _export.Name, listener.LocalEndPoint?.ToString() ?? "?", _export.Size, _devices.Count);
        _acceptLoop = AcceptLoopAsync(listener);
        return Task.CompletedTask;
    }

    /// <summary>
    /// Stops accepting, lets every request already read finish and be answered, flushes each device, removes the
    /// socket file. If <paramref name="cancellationToken"/> fires first, remaining connections are cut.
    /// </summary>
    public async Task StopAsync(CancellationToken cancellationToken = default)
    {
        if (Interlocked.Exchange(ref _stopped, 1) != 0 || _listener is null)
        {
            return;
        }

        await _stopping.CancelAsync().ConfigureAwait(false);
        _listener.Dispose();
        if (_acceptLoop is not null)
        {
            await _acceptLoop.ConfigureAwait(false);
        }

        Task[] running;
        lock (_connections)
        {
            foreach (var connection in _connections.Keys)
            {
                connection.StopReceiving();
            }

            running = [.. _connections.Values];
        }

        try
        {
            await Task.WhenAll(running).WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            lock (_connections)
            {
                foreach (var connection in _connections.Keys)
                {
                    connection.Abort();
                }
            }
        }

        foreach (var device in _devices)
        {
            try
            {
                await device.FlushAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                NbdLog.StopFlushFailed(_logger, ex);
            }
        }

        if (_options.SocketPath is { } path)
        {
            File.Delete(path);
        }

        NbdLog.Stopped(_logger, AcceptedConnections);
    }

    /// <summary>Starts, serves until <paramref name="cancellationToken"/> fires, then stops gracefully.</summary>
    public async Task RunAsync(CancellationToken cancellationToken)
    {
        await StartAsync(CancellationToken.None).ConfigureAwait(false);
        try
        {
            await Task.Delay(Timeout.Infinite, cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // Normal shutdown request.
        }

        using var grace = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await StopAsync(grace.Token).ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync(CancellationToken.None).ConfigureAwait(false);
        _stopping.Dispose();
    }

    private async Task AcceptLoopAsync(Socket listener)
    {
        while (!_stopping.IsCancellationRequested)
        {
            Socket socket;
            try
            {
                socket = await listener.AcceptAsync(_stopping.Token).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException or SocketException)
            {
                return;
            }

            if (socket.AddressFamily != AddressFamily.Unix)
            {
                socket.NoDelay = true;
            }

            var id = Interlocked.Increment(ref _accepted);
            var deviceIndex = (int)((id - 1) % _devices.Count);
#pragma warning disable CA2000 // false positive: RunConnectionAsync owns it and disposes it when the connection ends
            var connection = new NbdConnection(socket, _devices[deviceIndex], _blockIo, _export, _options.MaxInFlightPerConnection, id, _logger);
#pragma warning restore CA2000
            NbdLog.Accepted(_logger, id, deviceIndex);
            lock (_connections)
            {
                _connections[connection] = RunConnectionAsync(connection);
            }
        }
    }

    private async Task RunConnectionAsync(NbdConnection connection)
    {
        await Task.Yield();
        await connection.RunAsync().ConfigureAwait(false);
        lock (_connections)
        {
            _connections.Remove(connection);
        }

        connection.Dispose();
    }

    private static void RemoveStaleSocket(string path)
    {
        if (!File.Exists(path))
        {
            return;
        }

        using (var probe = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified))
        {
            try
            {
                probe.Connect(new UnixDomainSocketEndPoint(path));
                throw new IOException($"another server is listening on {path}");
            }
            catch (SocketException)
            {
                // Nobody answers: the file is left over from a server that died.
            }
        }

        File.Delete(path);
    }
}
