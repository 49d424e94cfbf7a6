using System.IO.Pipelines;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Versioning;
using System.Threading.Tasks.Sources;
using NvmeMptls.Transport.Connections;
using NvmeMptls.Transport.Multipath;

namespace NvmeMptls.Transport.Sockets;

/// <summary>
/// Receive placement (<see cref="IReceivePlacement"/>): a reader that runs inline in the receive loop asks for the next
/// bytes to go into its own memory, and the loop's next receive reads them there instead of into a pipe segment. The
/// loop, the only writer of the input pipe, runs the reader inside its flush; so while the reader runs there, nothing
/// is received, and a reader that has consumed the whole pipe knows its placed bytes are the stream's next.
/// </summary>
public sealed partial class SocketConnection : IReceivePlacement
{
    private readonly PlacementSource _placement = new();

    /// <summary>Where the next receive goes, set by <see cref="TryPlace"/>; empty when it goes to the pipe.</summary>
    private Memory<byte> _placeInto;

    /// <summary>A placement was granted and has not completed or failed yet.</summary>
    private bool _placementArmed;

    /// <summary>The managed thread id of the receive loop while it runs the reader inline (in its flush); 0 otherwise.</summary>
    private int _inlineReaderThread;

    /// <summary>The last receive returned less than it had room for: the socket most likely holds nothing more now.</summary>
    private bool _receiveDrained;

    private bool IsMptcp => TransportName == "mptcp";

    /// <summary>Cancels the placed receive: the reader's token (registered per placement) or a pause.</summary>
    private CancellationTokenSource _placementCancel = new();

    private CancellationTokenRegistration _placementRegistration;

    /// <summary>Bytes received straight into readers' memory, past the pipe (counted when a placement completes).</summary>
    public long PlacedBytes { get; private set; }

    /// <summary>A placement was granted and its bytes are not all in yet: the receive may still write the reader's memory.</summary>
    internal bool PlacementPending => Volatile.Read(ref _placementArmed);

    /// <inheritdoc />
    public bool TryPlace(Memory<byte> destination, CancellationToken cancellationToken, out ValueTask placed)
    {
        // Only the receive loop's own thread, inside its flush, may place: a reader anywhere else could race a receive
        // that is already under way into the pipe.
        if (destination.IsEmpty || !_options.PlaceReceives || _placementArmed || _closing || ReceiveErrorFilter is not null
            || _inlineReaderThread != Environment.CurrentManagedThreadId || _placementCancel.IsCancellationRequested
            || cancellationToken.IsCancellationRequested)
        {
            placed = default;
            return false;
        }

        _placeInto = destination;
        _placementArmed = true;
        placed = _placement.Arm();
        // A source's registrations reuse their nodes, so a queue's long-lived stop token costs no allocation here.
        _placementRegistration = cancellationToken.CanBeCanceled
            ? cancellationToken.UnsafeRegister(static s => ((SocketConnection)s!).CancelPlacement(), this)
            : default;
        return true;
    }

    /// <summary>Stops a placed receive under way (from any thread); the loop then fails the placement.</summary>
    private void CancelPlacement()
    {
        try
        {
            _placementCancel.Cancel();
        }
        catch (ObjectDisposedException)
        {
            // The connection is gone: its receive ended already.
        }
    }

    /// <summary>Flushes the input pipe, marking the loop's thread as running the reader inline for the synchronous part.</summary>
    private ValueTask<FlushResult> FlushInline(PipeWriter writer)
    {
        _inlineReaderThread = Environment.CurrentManagedThreadId;
        try
        {
            return writer.FlushAsync();
        }
        finally
        {
            _inlineReaderThread = 0;
        }
    }

    /// <summary>
    /// Receives the granted placement whole. On Linux each receive is one recvmsg into two spans: the rest of the placed
    /// bytes, then a pipe segment for whatever the peer sent after them (the next PDUs), so a placement costs no system call
    /// more than a receive into the pipe would. Returns false, with the placement still armed (it fails when the loop
    /// ends), when the peer closed first or the pipe's reader is gone. A receive error propagates to the loop, which fails
    /// the placement with it.
    /// </summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<bool> ReceivePlacedAsync(PipeWriter writer)
    {
        var destination = _placeInto;
        _placeInto = default;
        var filled = 0;
        var spilled = 0;
        while (filled < destination.Length)
        {
            int received;
            // On MPTCP a wait receives straight into the destination: .NET's zero-byte receive peeks (MSG_PEEK), which
            // MPTCP sockets refuse on kernels before 5.14.
            if (OperatingSystem.IsLinux() && !(_receiveDrained && IsMptcp))
            {
                // The last receive took less than it had room for: the socket is most likely empty, so wait before the
                // recvmsg rather than make one that fails (on this VM a system call costs about a microsecond). A zero-byte
                // receive waits in epoll until bytes are there, without taking any.
                if (_receiveDrained)
                {
                    PollForInput();
                    await _socket.ReceiveAsync(Memory<byte>.Empty, SocketFlags.None, _placementCancel.Token).ConfigureAwait(false);
                }

                // One recvmsg takes the rest of the placed bytes and what follows them, so placing costs no receive more
                // than the pipe would.
                var spill = writer.GetMemory(_options.BurstReceiveSize);
                received = ReceiveScatter(destination.Span[filled..], spill.Span);
                _receiveDrained = received < destination.Length - filled + spill.Length;
                if (received < 0)
                    continue;
            }
            else
            {
                PollForInput();
                received = await _socket.ReceiveAsync(destination[filled..], SocketFlags.None, _placementCancel.Token).ConfigureAwait(false);
            }

            if (received == 0)
            {
                SocketLog.PeerFin(_logger, RemoteEndPoint);
                return false;
            }

            var placed = Math.Min(received, destination.Length - filled);
            filled += placed;
            spilled = received - placed;
        }

        // What came after the placed bytes goes into the pipe before the reader continues, so that it finds them there
        // (the next PDU's header, the digest) and never places ahead of them. The reader does not read the pipe while it
        // waits for a placement, so this flush runs nothing of it.
        if (spilled > 0)
        {
            writer.Advance(spilled);
            var flush = await FlushInline(writer).ConfigureAwait(false);
            if (flush.IsCompleted || flush.IsCanceled)
                return false;
        }

        PlacedBytes += filled;
        _placementRegistration.Unregister();
        _placementArmed = false;
        _inlineReaderThread = Environment.CurrentManagedThreadId;
        try
        {
            _placement.Complete(); // the reader continues inline here, as it does in a flush
        }
        finally
        {
            _inlineReaderThread = 0;
        }

        return true;
    }

    /// <summary>
    /// One non-blocking recvmsg into <paramref name="placed"/> then <paramref name="spill"/>: the bytes received, 0 at the
    /// peer's FIN, -1 when none are waiting. The socket is .NET's and non-blocking; only the receive loop reads it.
    /// </summary>
    [SupportedOSPlatform("linux")]
    private unsafe int ReceiveScatter(Span<byte> placed, Span<byte> spill)
    {
        fixed (byte* first = placed)
        fixed (byte* second = spill)
        {
            var iov = stackalloc LinuxNative.IoVec[2];
            iov[0] = new LinuxNative.IoVec { Base = first, Length = (nuint)placed.Length };
            iov[1] = new LinuxNative.IoVec { Base = second, Length = (nuint)spill.Length };
            var message = new LinuxNative.MsgHdr { Iov = iov, IovLength = 2 };
            while (true)
            {
                var result = LinuxNative.RecvMsg(_socket.SafeHandle, &message, LinuxNative.MSG_DONTWAIT);
                if (result >= 0)
                    return (int)result;
                var errno = Marshal.GetLastPInvokeError();
                if (errno == LinuxNative.EINTR)
                    continue;
                if (errno == LinuxNative.EAGAIN)
                    return -1;
                throw new SocketException((int)LinuxNative.ToSocketError(errno));
            }
        }
    }

    /// <summary>A placement still armed when the loop ends fails with what ended the loop.</summary>
    private void FailPlacement(Exception? error)
    {
        if (!_placementArmed)
            return;
        _placementArmed = false;
        _placeInto = default;
        _placementRegistration.Unregister();
        _placement.Fail(error ?? new EndOfStreamException("stream ended inside placed PDU data"));
    }

    /// <summary>One reusable completion per connection: a placement allocates nothing.</summary>
    private sealed class PlacementSource : IValueTaskSource
    {
        private ManualResetValueTaskSourceCore<bool> _core; // continuations run inline: the reader stays on the loop's thread

        public ValueTask Arm()
        {
            _core.Reset();
            return new ValueTask(this, _core.Version);
        }

        public void Complete() => _core.SetResult(true);

        public void Fail(Exception error) => _core.SetException(error);

        void IValueTaskSource.GetResult(short token) => _core.GetResult(token);

        ValueTaskSourceStatus IValueTaskSource.GetStatus(short token) => _core.GetStatus(token);

        void IValueTaskSource.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
            _core.OnCompleted(continuation, state, token, flags);
    }
}
