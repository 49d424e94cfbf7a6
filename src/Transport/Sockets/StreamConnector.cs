using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using NvmeMptls.Transport.Multipath;

namespace NvmeMptls.Transport.Sockets;

/// <summary>Opens TCP/MPTCP connections according to a <see cref="MultipathPolicy"/>.</summary>
public static class StreamConnector
{
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(10);

    /// <summary>Connects to <paramref name="host"/> (an IP literal, or a name resolved by the system resolver) and port.</summary>
    public static async Task<SocketConnection> ConnectAsync(string host, int port,
        MultipathPolicy policy = MultipathPolicy.Preferred, IPAddress? localAddress = null, TimeSpan? timeout = null,
        string? networkNamespace = null, SocketConnectionOptions? options = null, ILogger? logger = null,
        CancellationToken cancellationToken = default)
    {
        if (!IPAddress.TryParse(host, out var address))
        {
            var addresses = await Dns.GetHostAddressesAsync(host, cancellationToken).ConfigureAwait(false);
            address = addresses.Length > 0 ? addresses[0] : throw new SocketException((int)SocketError.HostNotFound);
        }
        return await ConnectAsync(new IPEndPoint(address, port), policy, localAddress, timeout, networkNamespace, options,
            logger, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Connects to <paramref name="remote"/>. With <see cref="MultipathPolicy.Required"/> a connection that is not
    /// MPTCP end to end is reset and <see cref="MultipathUnavailableException"/> says why. A timeout raises
    /// <see cref="TimeoutException"/>.
    /// </summary>
    public static async Task<SocketConnection> ConnectAsync(IPEndPoint remote,
        MultipathPolicy policy = MultipathPolicy.Preferred, IPAddress? localAddress = null, TimeSpan? timeout = null,
        string? networkNamespace = null, SocketConnectionOptions? options = null, ILogger? logger = null,
        CancellationToken cancellationToken = default)
    {
        logger ??= NullLogger.Instance;
        var limit = timeout ?? DefaultTimeout;
        var created = SocketFactory.Create(remote.AddressFamily, policy, networkNamespace, logger);
        var socket = created.Socket;
        string? fallbackReason = created.FallbackReason;
        try
        {
            if (localAddress is not null)
                socket.Bind(new IPEndPoint(localAddress, 0));
            using var timeoutCts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeoutCts.CancelAfter(limit);
            try
            {
                await socket.ConnectAsync(remote, timeoutCts.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                throw new TimeoutException($"connect to {remote} timed out after {limit.TotalSeconds:0.###} s");
            }
            catch (SocketException ex) when (SocketErrors.Classify(ex) == ConnectionErrorKind.Reset)
            {
                // A listener that refuses after the handshake (multipath: required) resets us before connect returns.
                throw new ConnectionResetException($"connect to {remote}: connection reset by peer", ex);
            }

            if (created.IsMptcp && !MptcpSocketOptions.IsMptcpActive(socket))
            {
                fallbackReason = SocketConnection.PeerFallbackReason(remote);
                if (policy == MultipathPolicy.Required)
                    throw new MultipathUnavailableException($"multipath: required, but {fallbackReason}");
                SocketLog.PeerFellBack(logger, socket.LocalEndPoint, remote, fallbackReason);
            }
        }
        catch
        {
            socket.LingerState = new LingerOption(true, 0);
            socket.Dispose();
            throw;
        }
        var connection = new SocketConnection(socket, policy, fallbackReason, options, logger);
        SocketLog.Connected(logger, connection.LocalEndPoint, connection.RemoteEndPoint, connection.TransportName);
        return connection;
    }
}
