using System.Buffers;
using System.IO.Pipelines;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Threading.Tasks.Sources;
using NvmeMptls.Transport.Connections;

namespace NvmeMptls.Transport.Sockets;

/// <summary>
/// Gathered send (<see cref="StreamConnection.SpliceOutput"/>): memory the caller owns goes to the kernel in the same
/// sendmsg as the pipe bytes around it, at the exact byte position where it was spliced, so the read data of a
/// C2HData PDU is never copied into the output pipe. The application's writer is wrapped to count the bytes written;
/// a splice remembers that count, and the send loop, which counts the bytes it consumed from the pipe, cuts the pipe's
/// segments at each splice's position and puts the spliced memory between the pieces.
/// </summary>
public sealed partial class SocketConnection
{
    /// <summary>
    /// iovec entries per sendmsg. .NET's Unix socket layer builds up to 8 on the stack and allocates two arrays per send
    /// beyond that, so a gathered send takes at most 8 pieces (about three reads' PDUs) to stay allocation-free.
    /// </summary>
    private const int MaxGatherEntries = 8;

    private readonly object _spliceLock = new();
    private readonly Queue<Splice> _splices = new();
    private readonly List<Splice> _taken = new();
    private readonly List<ArraySegment<byte>> _gather = new();
    private readonly GatherSender _gatherSender = new();
    private int _pendingSplices;
    private bool _splicesClosed;
    private long _consumed;

    /// <inheritdoc />
    public override bool CanSpliceOutput => true;

    /// <summary>Splices queued and not yet handed to the kernel.</summary>
    public int PendingSplices => Volatile.Read(ref _pendingSplices);

    /// <inheritdoc />
    public override void SpliceOutput(ArraySegment<byte> data, IOutputSpliceCompletion completion, object? token)
    {
        ArgumentNullException.ThrowIfNull(completion);
        if (data.Count == 0)
        {
            completion.OnSpliceCompleted(token, true);
            return;
        }

        lock (_spliceLock)
        {
            if (!_splicesClosed)
            {
                _splices.Enqueue(new Splice(_outputWriter.Written, data, completion, token));
                _pendingSplices = _splices.Count;
                return;
            }
        }

        completion.OnSpliceCompleted(token, false);
    }

    /// <summary>
    /// Sends <paramref name="buffer"/> (the pipe's bytes from <see cref="_consumed"/>) with every splice whose position
    /// falls inside it or at its end, in one gathered send per <see cref="MaxGatherEntries"/> pieces.
    /// </summary>
    private async ValueTask SendGatheredAsync(ReadOnlySequence<byte> buffer)
    {
        var pos = _consumed;
        var end = pos + buffer.Length;
        lock (_spliceLock)
        {
            while (_splices.TryPeek(out var next) && next.Position <= end)
            {
                _taken.Add(_splices.Dequeue());
            }

            _pendingSplices = _splices.Count;
        }

        var sent = false;
        try
        {
            var k = 0;
            _gather.Clear();
            foreach (var segment in buffer)
            {
                var piece = segment;
                while (k < _taken.Count && _taken[k].Position <= pos + piece.Length)
                {
                    var before = (int)(_taken[k].Position - pos);
                    if (before > 0)
                    {
                        await AddAsync(piece[..before]).ConfigureAwait(false);
                        piece = piece[before..];
                        pos += before;
                    }

                    await AddAsync(_taken[k++].Data).ConfigureAwait(false);
                }

                if (!piece.IsEmpty)
                {
                    await AddAsync(piece).ConfigureAwait(false);
                    pos += piece.Length;
                }
            }

            while (k < _taken.Count)
            {
                await AddAsync(_taken[k++].Data).ConfigureAwait(false); // spliced at the very end of what was flushed
            }

            await SendGatherListAsync().ConfigureAwait(false);
            sent = true;
        }
        finally
        {
            _gather.Clear();
            foreach (var splice in _taken)
            {
                splice.Completion.OnSpliceCompleted(splice.Token, sent);
            }

            _taken.Clear();
        }
    }

    private ValueTask AddAsync(ReadOnlyMemory<byte> memory)
    {
        if (!MemoryMarshal.TryGetArray(memory, out var segment))
        {
            throw new InvalidOperationException("output pipe memory is not array-backed"); // PipeBufferPool's blocks are arrays
        }

        return AddAsync(segment);
    }

    private ValueTask AddAsync(ArraySegment<byte> segment)
    {
        _gather.Add(segment);
        return _gather.Count >= MaxGatherEntries ? SendGatherListAsync() : ValueTask.CompletedTask;
    }

    /// <summary>Sends the gather list whole (a stream socket's send normally takes all; a short one is resumed).</summary>
    private async ValueTask SendGatherListAsync()
    {
        while (_gather.Count > 0)
        {
            var sent = await _gatherSender.SendAsync(_socket, _gather).ConfigureAwait(false);
            DropSent(_gather, sent);
        }
    }

    /// <summary>Removes the first <paramref name="sent"/> bytes from <paramref name="list"/>.</summary>
    internal static void DropSent(List<ArraySegment<byte>> list, int sent)
    {
        var whole = 0;
        while (whole < list.Count && sent >= list[whole].Count)
        {
            sent -= list[whole].Count;
            whole++;
        }

        if (whole == list.Count)
        {
            list.Clear();
            return;
        }

        list.RemoveRange(0, whole);
        if (sent > 0)
        {
            list[0] = list[0][sent..];
        }
    }

    /// <summary>The send loop ended: nothing spliced will go out; every pending splice is given back.</summary>
    private void CloseSplices()
    {
        lock (_spliceLock)
        {
            _splicesClosed = true;
        }

        // No splice is added after _splicesClosed, so the queue can be drained outside the lock.
        while (_splices.TryDequeue(out var splice))
        {
            splice.Completion.OnSpliceCompleted(splice.Token, false);
        }

        Volatile.Write(ref _pendingSplices, 0);
    }

    private readonly record struct Splice(long Position, ArraySegment<byte> Data, IOutputSpliceCompletion Completion, object? Token);

    /// <summary>
    /// The application's view of the output pipe: the pipe's writer, counting the bytes written so a splice knows its
    /// position. A flush that adds no byte while splices wait wakes the send loop itself (the pipe only wakes its reader
    /// for new bytes).
    /// </summary>
    private sealed class SpliceCountingWriter(SocketConnection connection, PipeWriter inner) : PipeWriter
    {
        private long _writtenAtFlush;

        /// <summary>Bytes written to the pipe since the connection started (writer thread only).</summary>
        public long Written { get; private set; }

        public override bool CanGetUnflushedBytes => inner.CanGetUnflushedBytes;

        public override long UnflushedBytes => inner.UnflushedBytes;

        public override void Advance(int bytes)
        {
            inner.Advance(bytes);
            Written += bytes;
        }

        public override Memory<byte> GetMemory(int sizeHint = 0) => inner.GetMemory(sizeHint);

        public override Span<byte> GetSpan(int sizeHint = 0) => inner.GetSpan(sizeHint);

        public override void CancelPendingFlush() => inner.CancelPendingFlush();

        public override void Complete(Exception? exception = null) => inner.Complete(exception);

        public override ValueTask CompleteAsync(Exception? exception = null) => inner.CompleteAsync(exception);

        public override ValueTask<FlushResult> FlushAsync(CancellationToken cancellationToken = default)
        {
            if (Written == _writtenAtFlush && connection.PendingSplices > 0)
            {
                connection._output.Reader.CancelPendingRead(); // not an abort: the send loop checks _abortReason
            }

            _writtenAtFlush = Written;
            return inner.FlushAsync(cancellationToken);
        }

        public override ValueTask<FlushResult> WriteAsync(ReadOnlyMemory<byte> source, CancellationToken cancellationToken = default)
        {
            this.Write(source.Span);
            return FlushAsync(cancellationToken);
        }
    }

    /// <summary>One reusable SocketAsyncEventArgs for gathered sends, awaitable without allocating.</summary>
    private sealed class GatherSender : SocketAsyncEventArgs, IValueTaskSource<int>
    {
        private ManualResetValueTaskSourceCore<int> _core;

        public GatherSender()
            : base(unsafeSuppressExecutionContextFlow: true)
        {
        }

        public ValueTask<int> SendAsync(Socket socket, List<ArraySegment<byte>> buffers)
        {
            _core.Reset();
            BufferList = buffers;
            if (socket.SendAsync(this))
            {
                return new ValueTask<int>(this, _core.Version);
            }

            return SocketError == SocketError.Success
                ? new ValueTask<int>(BytesTransferred)
                : ValueTask.FromException<int>(new SocketException((int)SocketError));
        }

        protected override void OnCompleted(SocketAsyncEventArgs e)
        {
            if (SocketError == SocketError.Success)
            {
                _core.SetResult(BytesTransferred);
            }
            else
            {
                _core.SetException(new SocketException((int)SocketError));
            }
        }

        int IValueTaskSource<int>.GetResult(short token) => _core.GetResult(token);

        ValueTaskSourceStatus IValueTaskSource<int>.GetStatus(short token) => _core.GetStatus(token);

        void IValueTaskSource<int>.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
            _core.OnCompleted(continuation, state, token, flags);
    }
}
