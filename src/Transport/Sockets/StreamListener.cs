using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using NvmeMptls.Transport.Multipath;

namespace NvmeMptls.Transport.Sockets;

/// <summary>
/// A listening TCP/MPTCP socket. An MPTCP listener also accepts plain-TCP peers (as fallback connections);
/// with <see cref="MultipathPolicy.Required"/> those are reset, logged and counted, and accepting goes on.
/// Keep it open while its connections live: the MP_JOIN SYNs that add subflows to an accepted MPTCP
/// connection are received by the listening socket, so disposing it caps those connections at their
/// current subflows.
/// </summary>
public sealed class StreamListener : IAsyncDisposable
{
    private readonly Socket _socket;
    private readonly SocketConnectionOptions? _options;
    private readonly ILogger _logger;
    private readonly string? _osFallbackReason;
    private int _refusedFallbacks;

    private StreamListener(Socket socket, bool isMptcp, MultipathPolicy policy, string? osFallbackReason, SocketConnectionOptions? options, ILogger logger)
    {
        _socket = socket;
        IsMptcp = isMptcp;
        Policy = policy;
        _osFallbackReason = osFallbackReason;
        _options = options;
        _logger = logger;
        LocalEndPoint = (IPEndPoint)socket.LocalEndPoint!;
    }

    public IPEndPoint LocalEndPoint { get; }
    public MultipathPolicy Policy { get; }
    /// <summary>True when the listening socket is MPTCP (peers may still fall back to TCP).</summary>
    public bool IsMptcp { get; }
    /// <summary>Why the listener is plain TCP although the policy allowed MPTCP; null otherwise.</summary>
    public string? FallbackReason => _osFallbackReason;
    /// <summary>Connections reset because the policy is Required and the peer did not speak MPTCP.</summary>
    public int RefusedFallbacks => Volatile.Read(ref _refusedFallbacks);

    /// <summary>
    /// Binds and listens on <paramref name="endPoint"/> (port 0 picks one; IPv6Any also accepts IPv4),
    /// inside <paramref name="networkNamespace"/> when given.
    /// </summary>
    public static StreamListener Bind(IPEndPoint endPoint, MultipathPolicy policy = MultipathPolicy.Preferred,
        int backlog = 512, string? networkNamespace = null, SocketConnectionOptions? options = null, ILogger? logger = null)
    {
        logger ??= NullLogger.Instance;
        var created = SocketFactory.Create(endPoint.AddressFamily, policy, networkNamespace, logger);
        var socket = created.Socket;
        try
        {
            if (endPoint.AddressFamily == AddressFamily.InterNetworkV6 && endPoint.Address.Equals(IPAddress.IPv6Any))
                socket.DualMode = true;
            socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
            socket.Bind(endPoint);
            socket.Listen(backlog);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
        var listener = new StreamListener(socket, created.IsMptcp, policy, created.FallbackReason, options, logger);
        SocketLog.Listening(logger, listener.LocalEndPoint, listener.IsMptcp ? "mptcp" : "tcp");
        return listener;
    }

    /// <summary>Waits for the next acceptable connection.</summary>
    public async ValueTask<SocketConnection> AcceptAsync(CancellationToken cancellationToken = default)
    {
        while (true)
        {
            var socket = await _socket.AcceptAsync(cancellationToken).ConfigureAwait(false);
            // The kernel hands over a plain TCP socket (or a fallen-back MPTCP one) for a non-MPTCP peer;
            // the .NET object still says IPPROTO_MPTCP, so ask the kernel.
            string? fallbackReason = _osFallbackReason;
            if (IsMptcp && !MptcpSocketOptions.IsMptcpActive(socket))
            {
                string reason = SocketConnection.PeerFallbackReason(socket.RemoteEndPoint);
                fallbackReason = reason;
                if (Policy == MultipathPolicy.Required)
                {
                    Interlocked.Increment(ref _refusedFallbacks);
                    SocketLog.RefusedFallback(_logger, socket.RemoteEndPoint, $"multipath: required, but {reason}");
                    socket.LingerState = new LingerOption(true, 0);
                    socket.Dispose();
                    continue;
                }
                SocketLog.PeerFellBack(_logger, socket.LocalEndPoint, socket.RemoteEndPoint, reason);
            }
            return new SocketConnection(socket, Policy, fallbackReason, _options, _logger);
        }
    }

    public ValueTask DisposeAsync()
    {
        _socket.Dispose();
        return ValueTask.CompletedTask;
    }
}
