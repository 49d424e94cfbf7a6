using System.Buffers;
using System.IO.Pipelines;
using System.Runtime.CompilerServices;

namespace NvmeMptls.Transport.Connections;

/// <summary>Told by a <see cref="BurstEndReader"/> when its reader runs out of received bytes and when bytes come again.</summary>
public interface IReceiveBurst
{
    /// <summary>
    /// The reader has used every byte received so far and is about to wait for more: the moment to send what the
    /// burst produced in one flush. Runs on the reading thread; a flush that waits for the peer may be awaited here
    /// (the reader does not read meanwhile, which is back-pressure, not a hang).
    /// </summary>
    ValueTask OnBurstEndAsync(CancellationToken cancellationToken);

    /// <summary>Bytes arrived after a wait: a new burst starts.</summary>
    void OnBurstStart();
}

/// <summary>
/// A <see cref="PipeReader"/> over another that calls <see cref="IReceiveBurst.OnBurstEndAsync"/> before each read
/// that would have to wait for the peer, and <see cref="IReceiveBurst.OnBurstStart"/> when that read returns. A
/// protocol loop that handles every PDU of a receive burst inline can so answer the whole burst with one flush, as
/// SPDK's reactor does at the end of each poll: no thread hop between receive, execute and send, and one send call
/// per burst instead of one per answer. A burst also ends after <c>maxBurstBytes</c> consumed bytes even if more are
/// waiting: a reader slower than its peer would otherwise hold every answer (and every R2T the peer waits for) until
/// it caught up, and the peer would stall in turn. Allocates nothing per read unless a read or a flush really waits.
/// </summary>
/// <remarks>
/// Given the connection's <see cref="IReceivePlacement"/>, it passes placements on: a placement waits for the peer as a
/// read would, so the burst ends before it (the answers and R2Ts of the burst go out) and a new one starts after it.
/// </remarks>
public sealed class BurstEndReader(PipeReader inner, IReceiveBurst burst, int maxBurstBytes = BurstEndReader.DefaultMaxBurstBytes,
    IReceivePlacement? placement = null) : PipeReader, IReceivePlacement
{
    /// <summary>
    /// Default burst bound: an answer (or an R2T the peer waits for) waits for at most this much input to be handled
    /// before it. A burst of 32 4 KiB writes (133 KiB with headers) is flushed in three sends at most. Under
    /// spdk_nvme_perf (bench/spdk-perf-ab.sh) 64 KiB, 256 KiB, 1 MiB and no bound gave the same 128 KiB QD16 write
    /// throughput within the machine's noise.
    /// </summary>
    public const int DefaultMaxBurstBytes = 64 * 1024;

    /// <summary>
    /// The last AdvanceTo marked everything it was given as examined: the next read returns only new bytes, so it
    /// waits unless some came in the meantime. Starts true: the first read waits for the peer's first bytes.
    /// </summary>
    private bool _examinedAll = true;

    /// <summary>The buffer of the last read, to count what AdvanceTo consumes of it.</summary>
    private ReadOnlySequence<byte> _last;

    /// <summary>Bytes consumed since the burst began.</summary>
    private long _burstBytes;

    public override void AdvanceTo(SequencePosition consumed)
    {
        Count(consumed);
        _examinedAll = false;
        inner.AdvanceTo(consumed);
    }

    public override void AdvanceTo(SequencePosition consumed, SequencePosition examined)
    {
        Count(consumed);
        _examinedAll = !consumed.Equals(examined);
        inner.AdvanceTo(consumed, examined);
    }

    private void Count(SequencePosition consumed)
    {
        _burstBytes += _last.Slice(0, consumed).Length;
        _last = default;
    }

    /// <summary>False when no placement was given: <see cref="TryPlace"/> always declines, so a reader need not ask.</summary>
    public bool CanPlace => placement is not null;

    /// <inheritdoc />
    public bool TryPlace(Memory<byte> destination, CancellationToken cancellationToken, out ValueTask placed)
    {
        if (placement is null || !placement.TryPlace(destination, cancellationToken, out var received))
        {
            placed = default;
            return false;
        }

        _burstBytes = 0;
        // The placement is granted: whatever the burst's end does, the caller must not go on before the placed bytes are
        // in (or the stream ended), or the receive could write its buffer after it gave the buffer up.
        ValueTask end;
        try
        {
            end = burst.OnBurstEndAsync(cancellationToken);
        }
#pragma warning disable CA1031 // not swallowed: it faults the placement once the placed receive is over
        catch (Exception ex)
#pragma warning restore CA1031
        {
            end = ValueTask.FromException(ex);
        }

        placed = EndThenPlaceAsync(end, received);
        return true;
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask EndThenPlaceAsync(ValueTask end, ValueTask received)
    {
        try
        {
            await end.ConfigureAwait(false);
        }
        finally
        {
            await received.ConfigureAwait(false); // the pipe is not read before the placed bytes are in
        }

        burst.OnBurstStart();
    }

    public override void CancelPendingRead() => inner.CancelPendingRead();

    public override void Complete(Exception? exception = null) => inner.Complete(exception);

    public override ValueTask CompleteAsync(Exception? exception = null) => inner.CompleteAsync(exception);

    public override bool TryRead(out ReadResult result)
    {
        var read = inner.TryRead(out result);
        _last = result.Buffer;
        return read;
    }

    public override ValueTask<ReadResult> ReadAsync(CancellationToken cancellationToken = default)
    {
        if (!_examinedAll && _burstBytes < maxBurstBytes && inner.TryRead(out var ready))
        {
            if (!ready.Buffer.IsEmpty || ready.IsCompleted || ready.IsCanceled)
            {
                _last = ready.Buffer;
                return new ValueTask<ReadResult>(ready); // more of this burst is here already
            }

            inner.AdvanceTo(ready.Buffer.Start);
        }

        _burstBytes = 0;
        var end = burst.OnBurstEndAsync(cancellationToken);
        if (!end.IsCompletedSuccessfully)
        {
            return EndThenReadAsync(end, cancellationToken);
        }

        return ReadNewBytes(cancellationToken);
    }

    private ValueTask<ReadResult> ReadNewBytes(CancellationToken cancellationToken)
    {
        var read = inner.ReadAsync(cancellationToken);
        if (!read.IsCompleted)
        {
            return AwaitReadAsync(read);
        }

        var result = read.Result;
        _last = result.Buffer;
        burst.OnBurstStart();
        return new ValueTask<ReadResult>(result);
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<ReadResult> AwaitReadAsync(ValueTask<ReadResult> read)
    {
        var result = await read.ConfigureAwait(false);
        _last = result.Buffer;
        burst.OnBurstStart();
        return result;
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<ReadResult> EndThenReadAsync(ValueTask end, CancellationToken cancellationToken)
    {
        await end.ConfigureAwait(false);
        return await ReadNewBytes(cancellationToken).ConfigureAwait(false);
    }
}
