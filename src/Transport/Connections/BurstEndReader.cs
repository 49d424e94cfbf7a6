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
/// per burst instead of one per answer. Allocates nothing per read unless a read or the burst-end flush really waits.
/// </summary>
public sealed class BurstEndReader(PipeReader inner, IReceiveBurst burst) : PipeReader
{
    /// <summary>
    /// The last AdvanceTo marked everything it was given as examined: the next read returns only new bytes, so it
    /// waits unless some came in the meantime. Starts true: the first read waits for the peer's first bytes.
    /// </summary>
    private bool _examinedAll = true;

    public override void AdvanceTo(SequencePosition consumed)
    {
        _examinedAll = false;
        inner.AdvanceTo(consumed);
    }

    public override void AdvanceTo(SequencePosition consumed, SequencePosition examined)
    {
        _examinedAll = !consumed.Equals(examined);
        inner.AdvanceTo(consumed, examined);
    }

    public override void CancelPendingRead() => inner.CancelPendingRead();

    public override void Complete(Exception? exception = null) => inner.Complete(exception);

    public override ValueTask CompleteAsync(Exception? exception = null) => inner.CompleteAsync(exception);

    public override bool TryRead(out ReadResult result) => inner.TryRead(out result);

    public override ValueTask<ReadResult> ReadAsync(CancellationToken cancellationToken = default)
    {
        if (!_examinedAll && inner.TryRead(out var ready))
        {
            if (!ready.Buffer.IsEmpty || ready.IsCompleted || ready.IsCanceled)
            {
                return new ValueTask<ReadResult>(ready); // more of this burst is here already
            }

            inner.AdvanceTo(ready.Buffer.Start);
        }

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

        burst.OnBurstStart();
        return read;
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<ReadResult> AwaitReadAsync(ValueTask<ReadResult> read)
    {
        var result = await read.ConfigureAwait(false);
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
