using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using NvmeMptls.Transport.Connections;

namespace NvmeMptls.Initiator.Transport;

/// <summary>
/// Plain TCP queue connections (Socket + pipes over a <see cref="NetworkStream"/>, Nagle off). The default
/// connection factory until the shared socket layer (MPTCP, TLS) is plugged in instead.
/// </summary>
public static class TcpConnectionFactory
{
    /// <summary>The factory as a delegate.</summary>
    public static Func<NvmeQueueEndpoint, CancellationToken, ValueTask<StreamConnection>> Instance { get; } = ConnectAsync;

    /// <summary>Connects to the endpoint within its <see cref="NvmeControllerOptions.ConnectTimeout"/>.</summary>
    /// <exception cref="IOException">The connection failed; the message names the address.</exception>
    public static async ValueTask<StreamConnection> ConnectAsync(NvmeQueueEndpoint endpoint, CancellationToken cancellationToken)
    {
        var addresses = IPAddress.TryParse(endpoint.Address, out var literal)
            ? [literal]
            : await Dns.GetHostAddressesAsync(endpoint.Address, cancellationToken).ConfigureAwait(false);
        if (addresses.Length == 0)
        {
            throw new IOException($"cannot resolve {endpoint.Address}");
        }

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(endpoint.Options.ConnectTimeout);
        var remote = new IPEndPoint(addresses[0], endpoint.Port);
        var socket = new Socket(remote.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(remote, timeout.Token).ConfigureAwait(false);
        }
        catch (SocketException ex)
        {
            socket.Dispose();
            throw new IOException($"cannot connect to {Format(remote)}: {ex.Message}", ex);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            socket.Dispose();
            throw new IOException($"cannot connect to {Format(remote)}: no answer within {endpoint.Options.ConnectTimeout.TotalSeconds:0.#} s");
        }
        catch
        {
            socket.Dispose();
            throw;
        }

        return new TcpStreamConnection(socket);
    }

    internal static string Format(IPEndPoint endpoint) =>
        endpoint.AddressFamily == AddressFamily.InterNetworkV6 ? $"[{endpoint.Address}]:{endpoint.Port}" : $"{endpoint.Address}:{endpoint.Port}";

    private sealed class TcpStreamConnection : StreamConnection
    {
        private readonly Socket _socket;
        private readonly NetworkStream _stream;
        private int _closed;

        public TcpStreamConnection(Socket socket)
        {
            _socket = socket;
            _stream = new NetworkStream(socket, ownsSocket: true);
            Input = PipeReader.Create(_stream, new StreamPipeReaderOptions(bufferSize: 64 * 1024, minimumReadSize: 16 * 1024, leaveOpen: true));
            Output = PipeWriter.Create(_stream, new StreamPipeWriterOptions(minimumBufferSize: 64 * 1024, leaveOpen: true));
            LocalEndPoint = socket.LocalEndPoint;
            RemoteEndPoint = socket.RemoteEndPoint;
        }

        public override PipeReader Input { get; }

        public override PipeWriter Output { get; }

        public override EndPoint? LocalEndPoint { get; }

        public override EndPoint? RemoteEndPoint { get; }

        public override string TransportName => "tcp";

        public override Socket? UnderlyingSocket => _socket;

        public override void Abort(Exception? reason = null)
        {
            if (Interlocked.Exchange(ref _closed, 1) != 0)
            {
                return;
            }

            try
            {
                _socket.LingerState = new LingerOption(true, 0);
            }
            catch (SocketException)
            {
                // already gone: nothing to reset
            }
            catch (ObjectDisposedException)
            {
                // already gone
            }

            Input.CancelPendingRead();
            _stream.Dispose();
        }

        public override async ValueTask DisposeAsync()
        {
            if (Interlocked.Exchange(ref _closed, 1) != 0)
            {
                return;
            }

            try
            {
                await Output.CompleteAsync().ConfigureAwait(false);
            }
            catch (IOException)
            {
                // peer already gone
            }

            try
            {
                _socket.Shutdown(SocketShutdown.Both);
            }
            catch (SocketException)
            {
                // peer already gone
            }
            catch (ObjectDisposedException)
            {
                // already closed
            }

            Input.CancelPendingRead();
            await _stream.DisposeAsync().ConfigureAwait(false);
        }
    }
}
