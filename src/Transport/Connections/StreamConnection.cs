using System.IO.Pipelines;
using System.Net;
using NvmeMptls.Transport.Multipath;
using NvmeMptls.Transport.Tls;

namespace NvmeMptls.Transport.Connections;

/// <summary>
/// A reliable, ordered duplex byte stream: the only thing the PDU layer (and the TLS record layer)
/// sees. Memory pipes, TCP, MPTCP and TLS over any of them are all one of these.
/// </summary>
public abstract class StreamConnection : IDuplexPipe, IAsyncDisposable
{
    public abstract PipeReader Input { get; }
    public abstract PipeWriter Output { get; }
    public virtual EndPoint? LocalEndPoint => null;
    public virtual EndPoint? RemoteEndPoint => null;

    /// <summary>Short name of the carrier for logs and status: "memory", "tcp", "mptcp", "tls/mptcp"…</summary>
    public abstract string TransportName { get; }

    /// <summary>Multipath state of the underlying socket (null for non-socket carriers).</summary>
    public virtual MultipathStatus? GetMultipathStatus() => null;

    /// <summary>The kernel socket under this stream, for socket options (MPTCP info, kTLS); null for pipes.</summary>
    public virtual System.Net.Sockets.Socket? UnderlyingSocket => null;

    /// <summary>
    /// Stops taking bytes from the kernel (the receive in flight is cancelled, nothing already received is lost)
    /// and returns true once no receive is running; false when this carrier cannot pause. Used to hand a socket to
    /// kTLS: no ciphertext may be read in user space between the drain check and the kernel taking over.
    /// </summary>
    public virtual ValueTask<bool> PauseReceivingAsync() => ValueTask.FromResult(false);

    /// <summary>Takes bytes from the kernel again after <see cref="PauseReceivingAsync"/>.</summary>
    public virtual void ResumeReceiving()
    {
    }

    /// <summary>
    /// True when <see cref="SpliceOutput"/> takes caller memory without a copy into the output first: plain TCP/MPTCP and
    /// kTLS hand it to the kernel in a gathered send; the user-space TLS record layer seals it from where it lies into
    /// its records and completes the splice before returning. False for memory pipes.
    /// </summary>
    public virtual bool CanSpliceOutput => false;

    /// <summary>
    /// Sends <paramref name="data"/> exactly after every byte written to <see cref="Output"/> so far (flushed or not) and
    /// before every byte written after this call, without copying it into the output pipe: the send loop hands the pipe's
    /// bytes and the spliced memory to the kernel in one gathered send. The memory must stay unchanged until
    /// <paramref name="completion"/> is called, exactly once, with <paramref name="token"/>: after the kernel took the
    /// bytes (sent = true) or when the connection ended without sending them (sent = false) — possibly from inside this
    /// call. Like the writes around it, a splice goes out at the next flush of <see cref="Output"/>. One writer at a time,
    /// the same one that writes to <see cref="Output"/>. Only when <see cref="CanSpliceOutput"/>.
    /// </summary>
    public virtual void SpliceOutput(ArraySegment<byte> data, IOutputSpliceCompletion completion, object? token) =>
        throw new NotSupportedException($"{TransportName} cannot splice output; write the bytes to Output");

    /// <summary>TLS session facts when this stream is protected by TLS (null otherwise).</summary>
    public virtual TlsSessionInfo? Tls => null;

    /// <summary>Ends the stream at once in both directions (RST where the carrier has one).</summary>
    public abstract void Abort(Exception? reason = null);

    public abstract ValueTask DisposeAsync();
}
