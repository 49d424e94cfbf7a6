using System.Threading.Channels;
using NvmeMptls.Transport.Connections;

namespace NvmeMptls.Target.Tcp;

/// <summary>
/// Burst mode (<see cref="QueueSendMode.Burst"/>): the receive loop writes and flushes the answers of a burst itself,
/// when its <see cref="BurstEndReader"/> says every received byte is used. Answers queued from other threads while the
/// receive loop is busy leave with that burst; while it waits for the peer they kick the send task, which drains them.
/// The two writers take turns under <see cref="_writeLock"/>; the receive loop never waits for it (it kicks the send
/// task instead), so a slow peer holds up at most the send task.
/// </summary>
public sealed partial class TargetQueue : IReceiveBurst
{
    private readonly bool _burst;

    /// <summary>Burst mode: the receive loop or the send task, whichever writes answers now.</summary>
    private readonly SemaphoreSlim _writeLock = new(1, 1);

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

    /// <summary>The send task in burst mode: drains after each kick until the queue stops or the channel is done.</summary>
    private async Task BurstSendLoopAsync(CancellationToken ct)
    {
        var kicks = _kick.Reader;
        while (await kicks.WaitToReadAsync(CancellationToken.None).ConfigureAwait(false))
        {
            kicks.TryRead(out _);
            if (_sendStopping)
            {
                EndSending(SendEnd.Stopped);
                return;
            }

            await _writeLock.WaitAsync(CancellationToken.None).ConfigureAwait(false);
            SendEnd end;
            try
            {
                end = await DrainAsync(ct).ConfigureAwait(false);
            }
            finally
            {
                _writeLock.Release();
            }

            if (end != SendEnd.None || _send.Reader.Completion.IsCompleted)
            {
                return;
            }
        }
    }

    /// <summary>The receive side ended: the send task drains what is left (a TermReq among it) and ends.</summary>
    private void CompleteSending()
    {
        _send.Writer.TryComplete();
        if (_burst)
        {
            Kick();
        }
    }

    ValueTask IReceiveBurst.OnBurstEndAsync(CancellationToken cancellationToken)
    {
        Interlocked.Exchange(ref _receiving, 0);
        if (!_send.Reader.TryPeek(out _))
        {
            return default;
        }

        if (!_writeLock.Wait(0, CancellationToken.None))
        {
            Kick(); // the send task is writing: it drains once more when it is done
            return default;
        }

        ValueTask<SendEnd> drain;
        try
        {
            drain = DrainAsync(cancellationToken);
        }
        catch
        {
            _writeLock.Release();
            throw;
        }

        if (!drain.IsCompleted)
        {
            return FinishDrainAsync(drain);
        }

        SendEnd end;
        try
        {
            end = drain.Result;
        }
        finally
        {
            _writeLock.Release();
        }

        AfterBurstDrain(end);
        return default;
    }

    void IReceiveBurst.OnBurstStart() => Volatile.Write(ref _receiving, 1);

    private async ValueTask FinishDrainAsync(ValueTask<SendEnd> drain)
    {
        SendEnd end;
        try
        {
            end = await drain.ConfigureAwait(false);
        }
        finally
        {
            _writeLock.Release();
        }

        AfterBurstDrain(end);
    }

    /// <summary>The receive loop's drain met the end of sending: the send task finishes it (closes after a TermReq).</summary>
    private void AfterBurstDrain(SendEnd end)
    {
        if (end != SendEnd.None)
        {
            Kick();
        }
    }
}
