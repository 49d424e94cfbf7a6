using System.Threading.Channels;

namespace NvmeMptls.Transport.Connections;

/// <summary>The queue a <see cref="BurstSender"/> drains: the protocol side of a burst-mode connection.</summary>
public interface IBurstDrain
{
    /// <summary>
    /// True while items wait to be written. Implementations count their channel (ChannelReader.Count) and never
    /// TryPeek it: a peek makes the channel's ConcurrentQueue keep its segment for observers, so every later enqueue
    /// rents a new one (measured on the target: 55 bytes allocated per I/O instead of under 1).
    /// </summary>
    bool HasQueued { get; }

    /// <summary>
    /// Writes every queued item and flushes. Called only by the holder of the writer, so never twice at once. Returns
    /// true when sending is over for good (a TermReq went out, the output no longer takes bytes); every later call
    /// must then return true at once or not be made. Allocates nothing unless a flush waits for the peer.
    /// </summary>
    ValueTask<bool> DrainAsync(CancellationToken cancellationToken);
}

/// <summary>
/// The send side of burst mode, the same on both ends of a connection: the receive loop writes and flushes what a
/// receive burst produced itself, when its <see cref="BurstEndReader"/> says every received byte is used (no thread hop
/// between receive, handling and send; one send per burst, as SPDK's reactor does at the end of each poll). Items posted
/// from other threads while the receive loop waits for the peer kick a send task (<see cref="RunAsync"/>), which drains
/// them, unless the posting thread drains them itself once it has posted a batch (<see cref="DrainHere"/>, an io_uring
/// reaper). The writers take turns through one word and none ever waits for it: whoever fails to take it leaves the
/// work to the holder, which looks at the queue again when it lets go. A flush by the receive loop or by
/// <see cref="DrainHere"/> that has to wait for the peer is handed over to the send task together with the writer, so
/// the receive loop reads on (a peer that reads only after it has written everything still gets its PDUs read) and
/// nothing is allocated for the wait.
/// </summary>
public sealed class BurstSender : IReceiveBurst
{
    private const int Free = 0;
    private const int Held = 1;

    /// <summary>No one may take the writer any more: a drain met the end, or the owner closes the output.</summary>
    private const int Closed = 2;

    private readonly IBurstDrain _drain;

    /// <summary>Free, Held (by the receive loop, the send task or a <see cref="DrainHere"/> caller) or Closed.</summary>
    private int _writer;

    /// <summary>1 while the receive loop handles a burst (it drains what is queued when the burst ends), 0 while it waits.</summary>
    private int _receiving = 1;

    /// <summary>A drain (the receive loop's or a <see cref="DrainHere"/>) whose flush waits or failed, handed to the send task with the writer.</summary>
    private ValueTask<bool> _handedOver;

    private volatile bool _hasHandedOver;

    /// <summary>Set by <see cref="Stop"/>: the send task ends at its next kick.</summary>
    private volatile bool _stopping;

    /// <summary>Set by <see cref="CompleteReceive"/>: a drain that starts after seeing it drains the last item.</summary>
    private volatile bool _receiveEnded;

    /// <summary>The send task's token (the connection's), for drains run by <see cref="DrainHere"/>.</summary>
    private CancellationToken _token;

    /// <summary>Set once a drain said sending is over: the send task ends at its next kick.</summary>
    private volatile bool _ended;

    /// <summary>Wakes the send task (one pending kick is enough; more are dropped).</summary>
    private readonly Channel<bool> _kick = Channel.CreateBounded<bool>(new BoundedChannelOptions(1)
    {
        FullMode = BoundedChannelFullMode.DropWrite,
        SingleReader = true,
        AllowSynchronousContinuations = false,
    });

    public BurstSender(IBurstDrain drain)
    {
        ArgumentNullException.ThrowIfNull(drain);
        _drain = drain;
    }

    /// <summary>
    /// Call after each item is queued. Posted while the receive loop waits for the peer, nobody drains it unless the send
    /// task wakes. The interlocked read orders it after the enqueue; <see cref="IReceiveBurst.OnBurstEndAsync"/> clears
    /// the flag before it looks at the queue (a Dekker pair).
    /// </summary>
    public void OnPosted()
    {
        if (Interlocked.CompareExchange(ref _receiving, 0, 0) == 0)
        {
            Kick();
        }
    }

    /// <summary>Nothing more will be posted: the send task drains what is left (a TermReq among it) and ends.</summary>
    public void CompleteReceive()
    {
        _receiveEnded = true;
        Kick();
    }

    /// <summary>The connection stops: the send task finishes a handed-over flush (which observes the same stop) and ends.</summary>
    public void Stop()
    {
        _stopping = true;
        Kick();
    }

    /// <summary>
    /// Before the owner completes or aborts the output pipe: waits (bounded) for a writer that is copying into it to let
    /// go and closes the writer for good. A holder never waits for anything but its own flush, which observes the
    /// connection's stop, so this is short; after the bound the connection is torn down regardless.
    /// </summary>
    public void Close()
    {
        var deadline = Environment.TickCount64 + 1000;
        var spin = default(SpinWait);
        while (Interlocked.CompareExchange(ref _writer, Closed, Free) == Held && Environment.TickCount64 <= deadline)
        {
            spin.SpinOnce(sleep1Threshold: -1);
        }
    }

    /// <summary>
    /// The send task: drains after each kick until <see cref="Stop"/>, the end of sending, or the last drain after
    /// <see cref="CompleteReceive"/>. Returns true when it ended because of <see cref="Stop"/> (or the token). A drain's
    /// exception closes the writer (the receive loop must not copy into the pipe the owner tears down) and propagates.
    /// </summary>
    public async Task<bool> RunAsync(CancellationToken cancellationToken)
    {
        _token = cancellationToken;
        using var stop = cancellationToken.UnsafeRegister(static state => ((BurstSender)state!).Stop(), this);
        try
        {
            return await DrainOnKicksAsync(cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            // The drain that threw freed the writer first, so the receive loop may have taken it and handed over a flush
            // that waits: finish that one, or the writer stays held and Close spins to its bound.
            await FinishHandedOverAsync().ConfigureAwait(false);
            Close();
            throw;
        }
    }

    private async Task<bool> DrainOnKicksAsync(CancellationToken cancellationToken)
    {
        var kicks = _kick.Reader;
        while (await kicks.WaitToReadAsync(CancellationToken.None).ConfigureAwait(false))
        {
            kicks.TryRead(out _);
            if (_stopping)
            {
                await FinishHandedOverAsync().ConfigureAwait(false);
                return true;
            }

            var last = _receiveEnded; // nothing is posted after it is set: a drain that starts now takes what is left
            var ended = _ended;
            if (!ended && _hasHandedOver)
            {
                // The receive loop's flush waits for the peer, and the writer came with it.
                _hasHandedOver = false;
                var handedOver = _handedOver;
                _handedOver = default;
                try
                {
                    ended = await handedOver.ConfigureAwait(false);
                }
                catch
                {
                    ReleaseWriter(ended: true); // the output failed: nobody may write into it before RunAsync closes it
                    throw;
                }

                ReleaseWriter(ended);
            }

            if (!ended && TryTakeWriter())
            {
                try
                {
                    ended = await _drain.DrainAsync(cancellationToken).ConfigureAwait(false);
                }
                catch
                {
                    ReleaseWriter(ended: true);
                    throw;
                }

                ReleaseWriter(ended);
            }
            else if (!ended)
            {
                continue; // the receive loop writes: it looks at the queue again when it lets go
            }

            if (ended || last)
            {
                return false;
            }
        }

        return false;
    }

    /// <summary>
    /// The connection stops: a drain handed over by the receive loop may still be flushing (its flush observes the
    /// stop, so it ends soon). It is awaited so that it neither writes after the send task ended nor stays unobserved;
    /// the writer it came with is closed (sending is over).
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
#pragma warning disable CA1031 // the connection is stopping; the flush's error is its end, reported by the receive loop
        catch (Exception)
#pragma warning restore CA1031
        {
        }
        finally
        {
            ReleaseWriter(ended: true);
        }
    }

    private bool TryTakeWriter() => Interlocked.CompareExchange(ref _writer, Held, Free) == Free;

    /// <summary>
    /// Lets go of the writer. An item posted meanwhile may have found it taken, so the send task looks again. When the
    /// drain said sending is over, the writer is closed for good and the send task is kicked to end.
    /// </summary>
    private void ReleaseWriter(bool ended)
    {
        if (ended)
        {
            _ended = true;
            Volatile.Write(ref _writer, Closed);
            Kick();
            return;
        }

        Interlocked.Exchange(ref _writer, Free);

        // A kick that found the writer taken was dropped: the send task must look again if there is anything to send,
        // or if it is to end (the receive side ended, or a stop) and may have seen the writer held at its last kick.
        if (_drain.HasQueued || _receiveEnded || _stopping)
        {
            Kick();
        }
    }

    private void Kick() => _kick.Writer.TryWrite(true);

    /// <summary>
    /// Drains on the calling thread instead of kicking the send task: for a thread that completed a batch of commands
    /// (an io_uring reaper at the end of its completions) and posted them without <see cref="OnPosted"/>. Saves the
    /// wake-up of the send task per batch. Does nothing while the receive loop handles a burst (it drains when the burst
    /// ends), while another writer holds the turn (the holder looks at the queue again when it lets go), or once the
    /// connection stops or its receive side ended (the send task owns the last drain). A flush that waits for the peer,
    /// or a drain that failed, goes to the send task together with the writer, so this does not wait for the peer and
    /// never throws. The drain itself must not block: a caller whose drain may (user-space TLS takes a lock that a
    /// KeyUpdate holds across a flush) calls <see cref="OnPosted"/> instead.
    /// </summary>
    public void DrainHere()
    {
        // The poster's half of the Dekker pair with OnBurstEndAsync: its item is queued before this read.
        if (Interlocked.CompareExchange(ref _receiving, 0, 0) != 0 || _stopping || _receiveEnded || !_drain.HasQueued || !TryTakeWriter())
        {
            return;
        }

        ValueTask<bool> drain;
        try
        {
            drain = _drain.DrainAsync(_token);
        }
#pragma warning disable CA1031 // not lost: the send task observes it as its own drain's failure
        catch (Exception ex)
#pragma warning restore CA1031
        {
            drain = ValueTask.FromException<bool>(ex);
        }

        if (!drain.IsCompletedSuccessfully)
        {
            _handedOver = drain;
            _hasHandedOver = true;
            Kick();
            return;
        }

        ReleaseWriter(drain.Result);
    }

    ValueTask IReceiveBurst.OnBurstEndAsync(CancellationToken cancellationToken)
    {
        Interlocked.Exchange(ref _receiving, 0);
        if (!_drain.HasQueued || !TryTakeWriter())
        {
            return default; // nothing to send, or the send task writes and looks at the queue again when it lets go
        }

        var drain = _drain.DrainAsync(cancellationToken);
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
            ReleaseWriter(ended); // a drain that threw leaves the writer closed: the output no longer takes bytes
        }

        return default;
    }

    void IReceiveBurst.OnBurstStart() => Volatile.Write(ref _receiving, 1);
}
