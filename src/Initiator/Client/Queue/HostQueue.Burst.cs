using System.Runtime.CompilerServices;
using System.Threading.Channels;
using NvmeMptls.Transport.Connections;
using NvmeMptls.Transport.Pdu;

namespace NvmeMptls.Initiator.Queue;

/// <summary>
/// Burst mode (<see cref="NvmeCompletionMode.Inline"/>, I/O queues): the receive loop runs on the socket's receive
/// thread, completes commands there (their callers resubmit there) and, when its <see cref="BurstEndReader"/> says every
/// received byte is used, writes every command and H2CData queued in that burst and flushes once. Commands submitted
/// from other threads while the receive loop waits for the controller kick the send task, which drains them. As on the
/// target (TargetQueue.Burst), the two writers take turns through <see cref="_writing"/> and neither waits for it; a
/// receive-loop flush that waits for the peer is handed to the send task with the writer, so the receive loop reads on.
/// </summary>
internal sealed partial class HostQueue : IReceiveBurst
{
    private readonly bool _burst;

    /// <summary>Burst mode: 1 while the receive loop or the send task writes; <see cref="WriterClosed"/> once sending is over for good.</summary>
    private int _writing;

    /// <summary>No one may take the writer any more: a drain met the end, or the queue ends and closes the output.</summary>
    private const int WriterClosed = 2;

    /// <summary>1 while the receive loop handles a burst (it drains what is queued when the burst ends), 0 while it waits.</summary>
    private int _receiving = 1;

    /// <summary>Burst mode: a receive-loop drain whose flush waits for the peer, handed to the send task with the writer.</summary>
    private ValueTask<bool> _handedOver;

    private volatile bool _hasHandedOver;

    /// <summary>Set when the stop token fires: the send task ends at its next kick.</summary>
    private volatile bool _sendStopping;

    /// <summary>Set after the channel was completed: a drain that starts after seeing it drains the last item.</summary>
    private volatile bool _receiveEnded;

    /// <summary>Burst mode: wakes the send task (one pending kick is enough; more are dropped).</summary>
    private readonly Channel<bool> _kick = Channel.CreateBounded<bool>(new BoundedChannelOptions(1)
    {
        FullMode = BoundedChannelFullMode.DropWrite,
        SingleReader = true,
        AllowSynchronousContinuations = false,
    });

    /// <summary>Completions of I/O commands sent with a sink run on the receive thread (burst mode).</summary>
    internal bool InlineCompletions => _burst;

    /// <summary>Queues a command or R2T data; false when the queue is ending.</summary>
    private bool Post(in SendItem item)
    {
        if (!_sendQueue.Writer.TryWrite(item))
        {
            return false;
        }

        // Posted while the receive loop waits for the controller: nobody drains it unless the send task wakes. The
        // interlocked read orders it after the enqueue; OnBurstEndAsync clears the flag before it looks (a Dekker pair).
        if (_burst && Interlocked.CompareExchange(ref _receiving, 0, 0) == 0)
        {
            Kick();
        }

        return true;
    }

    /// <summary>No more items: the send task drains what is left (our TermReq among it) and ends.</summary>
    private void CompleteSending()
    {
        _sendQueue.Writer.TryComplete();
        if (_burst)
        {
            _receiveEnded = true;
            Kick();
        }
    }

    private void Kick() => _kick.Writer.TryWrite(true);

    private bool TryTakeWriter() => Interlocked.CompareExchange(ref _writing, 1, 0) == 0;

    /// <summary>
    /// Lets go of the writer; an item posted meanwhile may have found it taken, so the send task looks again. Count, not
    /// TryPeek: a peek makes the multi-reader channel's queue keep its segment, and every later enqueue rents a new one.
    /// </summary>
    private void ReleaseWriter(bool ended = false)
    {
        if (ended)
        {
            // Sending is over (our TermReq went out, or the output no longer takes bytes): nobody writes again.
            Volatile.Write(ref _writing, WriterClosed);
            return;
        }

        Interlocked.Exchange(ref _writing, 0);
        if (_sendQueue.Reader.Count != 0)
        {
            Kick();
        }
    }

    /// <summary>
    /// At the queue's end, before the output pipe is completed or aborted: waits (bounded) for a writer that is copying
    /// into it to let go and closes the writer for good. A holder never waits for anything but its own flush, which
    /// observes the stop token, so this is short; after the bound the connection is torn down regardless.
    /// </summary>
    private void CloseWriter()
    {
        if (!_burst)
        {
            return;
        }

        var deadline = Environment.TickCount64 + 1000;
        var spin = default(SpinWait);
        while (true)
        {
            var state = Interlocked.CompareExchange(ref _writing, WriterClosed, 0);
            if (state != 1 || Environment.TickCount64 > deadline)
            {
                return;
            }

            spin.SpinOnce(sleep1Threshold: -1);
        }
    }

    private async Task BurstSendLoopAsync()
    {
        using var stop = _stop.Token.UnsafeRegister(static state =>
        {
            var queue = (HostQueue)state!;
            queue._sendStopping = true;
            queue.Kick();
        }, this);
        try
        {
            var kicks = _kick.Reader;
            while (await kicks.WaitToReadAsync(CancellationToken.None).ConfigureAwait(false))
            {
                kicks.TryRead(out _);
                if (_sendStopping)
                {
                    await FinishHandedOverAsync().ConfigureAwait(false);
                    return;
                }

                var last = _receiveEnded; // nothing is posted after it is set: a drain that starts now takes what is left
                var ended = false;
                if (_hasHandedOver)
                {
                    _hasHandedOver = false;
                    var handedOver = _handedOver;
                    _handedOver = default;
                    try
                    {
                        ended = await handedOver.ConfigureAwait(false);
                    }
                    finally
                    {
                        ReleaseWriter(ended);
                    }
                }

                if (!ended && TryTakeWriter())
                {
                    try
                    {
                        ended = await DrainAsync().ConfigureAwait(false);
                    }
                    finally
                    {
                        ReleaseWriter(ended);
                    }
                }
                else if (!ended)
                {
                    continue; // the receive loop writes: it looks at the queue again when it lets go
                }

                if (ended || last)
                {
                    return;
                }
            }
        }
#pragma warning disable CA1031 // a flush throws whatever the connection ended with (an abort reason may be any exception)
        catch (Exception ex)
#pragma warning restore CA1031
        {
            CloseWriter(); // the receive loop must not be copying into the pipe the abort tears down
            OnSendFailed(ex);
        }
    }

    /// <summary>
    /// The queue stops: a drain handed over by the receive loop may still be flushing (its flush observes the stop
    /// token, so it ends soon). It is awaited so that it neither writes after the queue's end nor stays unobserved.
    /// </summary>
    private async ValueTask FinishHandedOverAsync()
    {
        if (!_hasHandedOver)
        {
            return;
        }

        _hasHandedOver = false;
        var handedOver = _handedOver;
        _handedOver = default;
        try
        {
            await handedOver.ConfigureAwait(false);
        }
#pragma warning disable CA1031 // the queue is ending; the flush's error is the connection's end, reported by the receive loop
        catch (Exception)
#pragma warning restore CA1031
        {
        }
        finally
        {
            ReleaseWriter(ended: true);
        }
    }

    /// <summary>
    /// Writes every queued item and flushes once (and every <see cref="FlushThreshold"/> bytes). True when sending is
    /// over: our TermReq went out (reference §1.5: nothing follows it) or the connection no longer takes bytes.
    /// The caller holds the writer. Allocates nothing unless a flush waits.
    /// </summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<bool> DrainAsync()
    {
        var reader = _sendQueue.Reader;
        while (reader.TryRead(out var item))
        {
            if (item.Kind == SendKind.TermReq)
            {
                _writer.WriteTermReq(PduRole.Host, (TermReqFes)item.TransferTag, item.Offset, _termHeader.AsSpan(0, _termHeaderLength));
                await _writer.FlushAsync(_stop.Token).ConfigureAwait(false);
                return true;
            }

            Write(item);
            if (_writer.UnflushedBytes >= FlushThreshold && (await _writer.FlushAsync(_stop.Token).ConfigureAwait(false)).IsCompleted)
            {
                return true;
            }
        }

        return _writer.UnflushedBytes != 0 && (await _writer.FlushAsync(_stop.Token).ConfigureAwait(false)).IsCompleted;
    }

    ValueTask IReceiveBurst.OnBurstEndAsync(CancellationToken cancellationToken)
    {
        Interlocked.Exchange(ref _receiving, 0);
        if (_sendQueue.Reader.Count == 0 || !TryTakeWriter())
        {
            return default; // nothing to send, or the send task writes and looks at the queue again when it lets go
        }

        var drain = DrainAsync();
        if (!drain.IsCompleted)
        {
            _handedOver = drain;
            _hasHandedOver = true;
            Kick();
            return default;
        }

        var ended = true;
        try
        {
            ended = drain.Result;
        }
        finally
        {
            ReleaseWriter(ended); // ended: the output no longer takes bytes and nobody takes the writer again
        }

        return default;
    }

    void IReceiveBurst.OnBurstStart() => Volatile.Write(ref _receiving, 1);
}
