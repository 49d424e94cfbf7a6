using System.Net;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using NvmeMptls.Crypto.Handshake;
using NvmeMptls.Crypto.Psk;
using NvmeMptls.Transport.Connections;
using NvmeMptls.Transport.Multipath;
using NvmeMptls.Transport.Sockets;
using NvmeMptls.Transport.Tls;

namespace NvmeMptls.Initiator.Transport;

/// <summary>
/// The production queue connection: a TCP or MPTCP socket under the options' <see cref="NvmeControllerOptions.Multipath"/> policy
/// (preferred falls back to TCP and says so; required refuses), optionally inside a network namespace, wrapped in
/// TLS 1.3 when <see cref="NvmeControllerOptions.Tls"/> is set. TLS sits on the MPTCP connection, not on a subflow.
/// </summary>
public static class NvmeConnectionFactory
{
    private static readonly SocketConnectionOptions InlineSocketOptions = SocketConnectionOptions.Default with { InlineReaders = true };

    /// <summary>The production connector, logging nowhere.</summary>
    public static NvmeQueueConnector Instance { get; } = Create(NullLoggerFactory.Instance);

    /// <summary>The production connector, logging through <paramref name="loggerFactory"/> (fallbacks, TLS handshakes).</summary>
    /// <param name="loggerFactory">Where connection and handshake messages go.</param>
    /// <returns>A connector that throws <see cref="IOException"/> (saying why) when the connection or the TLS handshake fails.</returns>
    public static NvmeQueueConnector Create(ILoggerFactory loggerFactory)
    {
        ArgumentNullException.ThrowIfNull(loggerFactory);
        return async (endpoint, ct) => await ConnectAsync(endpoint, loggerFactory, ct).ConfigureAwait(false);
    }

    /// <summary>Connects one queue's stream.</summary>
    /// <exception cref="IOException">The connection or the TLS handshake failed; the message says why.</exception>
    internal static async ValueTask<StreamConnection> ConnectAsync(NvmeQueueEndpoint endpoint, ILoggerFactory loggerFactory, CancellationToken cancellationToken)
    {
        var options = endpoint.Options;
        var logger = loggerFactory.CreateLogger("NvmeMptls.Initiator.Connect");

        // Inline completions: the queue's receive loop runs on the socket's receive thread and its flushes send there.
        var inline = endpoint.QueueId != 0 && options.CompletionMode == NvmeCompletionMode.Inline;
        var socketOptions = inline ? InlineSocketOptions : null;
        if (endpoint.QueueId != 0 && options.ReceivePoll > TimeSpan.Zero)
        {
            socketOptions = (socketOptions ?? SocketConnectionOptions.Default) with { ReceivePoll = options.ReceivePoll };
        }

        SocketConnection socket;
        try
        {
            socket = IPAddress.TryParse(endpoint.Address, out var ip)
                ? await StreamConnector.ConnectAsync(new IPEndPoint(ip, endpoint.Port), options.Multipath.ToTransport(), timeout: options.ConnectTimeout,
                    networkNamespace: options.NetworkNamespace, options: socketOptions, logger: logger, cancellationToken: cancellationToken).ConfigureAwait(false)
                : await StreamConnector.ConnectAsync(endpoint.Address, endpoint.Port, options.Multipath.ToTransport(), timeout: options.ConnectTimeout,
                    networkNamespace: options.NetworkNamespace, options: socketOptions, logger: logger, cancellationToken: cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is System.Net.Sockets.SocketException or TimeoutException)
        {
            throw new IOException($"cannot connect to {endpoint.Address}:{endpoint.Port}: {ex.Message}", ex);
        }

        if (!endpoint.UsesTls)
        {
            return socket;
        }

        try
        {
            // Secure channel concatenation brings its own PSK (the controller keeps and disposes it); else derive one.
            using var configured = endpoint.GeneratedTlsPsk is null ? ConfiguredPsk.Parse(ReadKey(options.TlsKey!)) : null;
            using var derived = configured is null ? null : ClientPsk.Create(configured, options.HostNqn, options.SubsystemNqn, options.TlsIdentityVersion, options.TlsCompat);
            var psk = endpoint.GeneratedTlsPsk ?? derived!;
            var tls = await NvmeTls.ConnectAsync(socket, psk, NvmeTlsOptions.Default with
            {
                HandshakeTimeout = options.ConnectTimeout,
                KeyLogPath = options.TlsKeyLogFile,
                LoggerFactory = loggerFactory,
                RecordLayer = TlsRecordLayerOptions.Default with
                {
                    KeyLimitRecords = options.TlsKeyLimitRecords ?? TlsRecordLayerOptions.Default.KeyLimitRecords,
                    KeyLimitPolicy = options.TlsKeyUpdate ? TlsKeyLimitPolicy.SendKeyUpdate : TlsKeyLimitPolicy.ReconnectBeforeLimit,
                    InlineReader = inline,
                },
            }, cancellationToken).ConfigureAwait(false);
            if (tls is TlsRecordConnection record)
            {
                // Reconnect before the AES-GCM key limit: the queue breaks, the controller reconnects with new keys
                // and retries the commands in flight. Linux kTLS peers do not accept KeyUpdate.
                record.KeyLimitApproaching += static c => c.Abort(new IOException("TLS write key reached its record limit; reconnecting with new keys"));
            }

            return tls;
        }
        catch
        {
            socket.Abort();
            await socket.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>The key itself, or the contents of the file it names.</summary>
    internal static string ReadKey(string keyOrPath) =>
        keyOrPath.StartsWith("NVMeTLSkey-", StringComparison.Ordinal) ? keyOrPath : File.ReadAllText(keyOrPath).Trim();
}
