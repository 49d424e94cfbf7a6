using System.IO.Pipelines;
using NvmeMptls.Transport.Connections;

namespace NvmeMptls.Transport.Tls;

/// <summary>
/// A carrier whose socket has kTLS installed both ways: the kernel seals and opens records, so the bytes in the
/// carrier's pipes are already plaintext. Adds only the TLS facts.
/// </summary>
public sealed class KernelTlsConnection : StreamConnection
{
    private readonly StreamConnection _inner;
    private readonly TlsSessionInfo _session;

    public KernelTlsConnection(StreamConnection inner, TlsSessionInfo session)
    {
        _inner = inner;
        _session = session with { SealProvider = "ktls", OpenProvider = "ktls" };
        if (inner is Sockets.SocketConnection socket)
        {
            socket.ReceiveErrorFilter = KernelTlsControl.Translate;
        }
    }

    public override PipeReader Input => _inner.Input;
    public override PipeWriter Output => _inner.Output;
    public override string TransportName => "ktls/" + _inner.TransportName;
    public override System.Net.EndPoint? LocalEndPoint => _inner.LocalEndPoint;
    public override System.Net.EndPoint? RemoteEndPoint => _inner.RemoteEndPoint;
    public override System.Net.Sockets.Socket? UnderlyingSocket => _inner.UnderlyingSocket;
    public override Multipath.MultipathStatus? GetMultipathStatus() => _inner.GetMultipathStatus();
    public override TlsSessionInfo Tls => _session;

    /// <summary>The kernel seals what it is given, so caller memory can be spliced into the plaintext stream as on a plain socket.</summary>
    public override bool CanSpliceOutput => _inner.CanSpliceOutput;

    public override void SpliceOutput(ArraySegment<byte> data, IOutputSpliceCompletion completion, object? token) =>
        _inner.SpliceOutput(data, completion, token);
    public override void Abort(Exception? reason = null) => _inner.Abort(reason);
    public override ValueTask DisposeAsync() => _inner.DisposeAsync();
}
