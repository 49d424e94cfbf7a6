using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using NvmeMptls.Transport.Connections;

namespace NvmeMptls.IntegrationTests.TestKit;

/// <summary>Test-only StreamConnection over a connected loopback TCP socket (the production socket layer replaces it).</summary>
public sealed class TlsTestSocketConnection : StreamConnection
{
    private readonly Socket _socket;
    private readonly NetworkStream _stream;

    public TlsTestSocketConnection(Socket socket)
    {
        _socket = socket;
        _stream = new NetworkStream(socket, ownsSocket: false);
        Input = PipeReader.Create(_stream, new StreamPipeReaderOptions(leaveOpen: true));
        Output = PipeWriter.Create(_stream, new StreamPipeWriterOptions(leaveOpen: true));
    }

    public override PipeReader Input { get; }
    public override PipeWriter Output { get; }
    public override string TransportName => "tcp";
    public override Socket? UnderlyingSocket => _socket;
    public override EndPoint? RemoteEndPoint => _socket.RemoteEndPoint;

    public static async Task<TlsTestSocketConnection> ConnectLoopbackAsync(int port)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        for (int attempt = 0; ; attempt++)
        {
            try
            {
                await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port));
                return new TlsTestSocketConnection(socket);
            }
            catch (SocketException) when (attempt < 50)
            {
                await Task.Delay(100);
            }
        }
    }

    public static int FreeLoopbackPort() => TestPorts.Next();

    public override void Abort(Exception? reason = null) => _socket.Close(0);

    public override async ValueTask DisposeAsync()
    {
        await Output.CompleteAsync();
        await Input.CompleteAsync();
        try
        {
            _socket.Shutdown(SocketShutdown.Both);
        }
        catch (SocketException)
        {
            // Peer already gone.
        }
        await _stream.DisposeAsync();
        _socket.Dispose();
    }
}
