using System.Threading.Channels;
using NvmeMptls.Target.Server;
using NvmeMptls.Transport.Connections;

namespace NvmeMptls.Target.Tcp;

/// <summary>
/// Burst mode (<see cref="QueueSendMode.Burst"/>): the receive loop writes and flushes the answers of a burst itself,
/// when its <see cref="BurstEndReader"/> says every received byte is used. Answers queued from other threads while the
/// receive loop is busy leave with that burst; while it waits for the peer they kick the send task, which drains them.
/// The two writers take turns through <see cref="_writing"/>; neither ever waits for it. Whoever fails to take it
/// leaves the work to the holder, which looks at the queue again when it lets go. A receive-loop flush that has to wait
/// for the peer is handed over to the send task with the writer, so the receive loop reads on (a host that reads only
/// after it has written everything still gets its commands read) and nothing is allocated for the wait.
/// </summary>
public sealed partial class TargetQueue : IReceiveBurst
{
    private readonly bool _burst;

    /// <summary>Burst mode: 1 while the receive loop or the send task writes answers.</summary>
    private int _writing;

    /// <summary>Burst mode: a receive-loop drain whose flush waits for the peer, handed to the send task with the writer.</summary>
    private ValueTask<SendEnd> _handedOver;

    private volatile bool _hasHandedOver;

    /// <summary>Burst mode: wakes the send task (one pending kick is enough; more are dropped).</summary>
    private readonly Channel<bool> _kick = Channel.CreateBounded<bool>(new BoundedChannelOptions(1)
    {
        FullMode = BoundedChannelFullMode.DropWrite,
        SingleReader = true,
        AllowSynchronousContinuations = false,
    });

    /// <summary>1 while the receive loop handles a burst (it will drain what is queued when the burst ends), 0 while it waits.</summary>
    private int _receiving = 1;

    /// <summary>Set when the queue's token fires: the send task ends at its next kick.</summary>
    private volatile bool _sendStopping;

    /// <summary>Set after the channel was completed: a drain that starts after seeing it drains the last answer.</summary>
    private volatile bool _receiveEnded;

    /// <summary>Queues an answer; false when the connection is closing (the caller frees the command).</summary>
    private bool Post(in SendItem item)
    {
        if (!_send.Writer.TryWrite(item))
        {
            return false;
        }

        // Posted while the receive loop waits for the peer: nobody drains it unless the send task wakes. The interlocked
        // read orders it after the enqueue; OnBurstEndAsync clears the flag before it drains (the other half of the pair).
        if (_burst && Interlocked.CompareExchange(ref _receiving, 0, 0) == 0)
        {
            Kick();
        }

        return true;
    }

    private void Kick() => _kick.Writer.TryWrite(true);

    private void StopBurstSending()
    {
        _sendStopping = true;
        Kick();
    }

    private bool TryTakeWriter() => Interlocked.CompareExchange(ref _writing, 1, 0) == 0;

    /// <summary>
    /// Lets go of the writer; an answer posted meanwhile may have found it taken, so the send task looks again. The queue
    /// is looked at with Count, never TryPeek: a peek makes the channel's ConcurrentQueue keep its segment for observers,
    /// so every later enqueue rents a new one (measured: 55 bytes allocated per I/O instead of under 1).
    /// </summary>
    private void ReleaseWriter()
    {
        Interlocked.Exchange(ref _writing, 0);
        if (_send.Reader.Count != 0)
        {
            Kick();
        }
    }

    /// <summary>The send task in burst mode: drains after each kick until the queue stops or the channel is done.</summary>
    private async Task BurstSendLoopAsync(CancellationToken ct)
    {
        var kicks = _kick.Reader;
        while (await kicks.WaitToReadAsync(CancellationToken.None).ConfigureAwait(false))
        {
            kicks.TryRead(out _);
            if (_sendStopping)
            {
                await FinishHandedOverAsync().ConfigureAwait(false);
                EndSending(SendEnd.Stopped);
                return;
            }

            var last = _receiveEnded; // nothing can be posted after it is set: a drain that starts now takes what is left
            var end = SendEnd.None;
            if (_hasHandedOver)
            {
                // The receive loop's flush waits for the peer, and the writer came with it.
                _hasHandedOver = false;
                var handedOver = _handedOver;
                _handedOver = default;
                try
                {
                    end = await handedOver.ConfigureAwait(false);
                }
                finally
                {
                    ReleaseWriter();
                }
            }

            if (end == SendEnd.None && TryTakeWriter())
            {
                try
                {
                    end = await DrainAsync(ct).ConfigureAwait(false);
                }
                finally
                {
                    ReleaseWriter();
                }
            }
            else if (end == SendEnd.None)
            {
                continue; // the receive loop writes: it looks at the queue again when it lets go
            }

            if (end != SendEnd.None || last)
            {
                return;
            }
        }
    }

    /// <summary>
    /// The queue stops: a drain handed over by the receive loop may still be flushing (its flush observes the queue's
    /// token, so it ends soon). It is awaited so that it neither writes after the send task ended nor stays unobserved;
    /// the writer is not given back (sending is over).
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
#pragma warning disable CA1031 // the queue is stopping; the flush's error is the connection's end, reported by the receive loop
        catch (Exception)
#pragma warning restore CA1031
        {
        }
    }

    /// <summary>The receive side ended: the send task drains what is left (a TermReq among it) and ends.</summary>
    private void CompleteSending()
    {
        _send.Writer.TryComplete();
        if (_burst)
        {
            _receiveEnded = true;
            Kick();
        }
    }

    ValueTask IReceiveBurst.OnBurstEndAsync(CancellationToken cancellationToken)
    {
        Interlocked.Exchange(ref _receiving, 0);
        if (_send.Reader.Count == 0 || !TryTakeWriter())
        {
            return default; // nothing to send, or the send task writes and looks at the queue again when it lets go
        }

        var drain = DrainAsync(cancellationToken);
        if (!drain.IsCompleted)
        {
            _handedOver = drain;
            _hasHandedOver = true;
            Kick();
            return default;
        }

        SendEnd end;
        try
        {
            end = drain.Result;
        }
        finally
        {
            ReleaseWriter();
        }

        if (end != SendEnd.None)
        {
            Kick(); // the drain met the end of sending: the send task finishes it (closes after a TermReq)
        }

        return default;
    }

    void IReceiveBurst.OnBurstStart() => Volatile.Write(ref _receiving, 1);
}
