using System.Runtime.CompilerServices;
using NvmeMptls.Transport.Connections;
using NvmeMptls.Transport.Pdu;

namespace NvmeMptls.Initiator.Queue;

/// <summary>
/// Burst mode (<see cref="NvmeCompletionMode.Inline"/>, I/O queues): the receive loop runs on the socket's receive
/// thread, completes commands there (their callers resubmit there) and, when its <see cref="BurstEndReader"/> says every
/// received byte is used, writes every command and H2CData queued in that burst and flushes once. Commands submitted
/// from other threads while the receive loop waits for the controller kick the send task, which drains them. The
/// turn-taking between the two writers is <see cref="BurstSender"/>'s, the same as the target's; this queue gives it
/// the commands to drain.
/// </summary>
internal sealed partial class HostQueue : IBurstDrain
{
    /// <summary>Burst mode's writer turns; null when the queue sends from its own task only.</summary>
    private readonly BurstSender? _burst;

    /// <summary>Completions of I/O commands sent with a sink run on the receive thread (burst mode).</summary>
    internal bool InlineCompletions => _burst is not null;

    /// <summary>Queues a command or R2T data; false when the queue is ending.</summary>
    private bool Post(in SendItem item)
    {
        if (!_sendQueue.Writer.TryWrite(item))
        {
            return false;
        }

        _burst?.OnPosted();
        return true;
    }

    /// <summary>No more items: the send task drains what is left (our TermReq among it) and ends.</summary>
    private void CompleteSending()
    {
        _sendQueue.Writer.TryComplete();
        _burst?.CompleteReceive();
    }

    /// <summary>At the queue's end, before the output pipe is completed or aborted: see <see cref="BurstSender.Close"/>.</summary>
    private void CloseWriter() => _burst?.Close();

    private async Task BurstSendLoopAsync()
    {
        try
        {
            await _burst!.RunAsync(_stop.Token).ConfigureAwait(false);
        }
#pragma warning disable CA1031 // a flush throws whatever the connection ended with (an abort reason may be any exception)
        catch (Exception ex)
#pragma warning restore CA1031
        {
            OnSendFailed(ex); // the sender closed its writer: the receive loop no longer copies into the pipe
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

    bool IBurstDrain.HasQueued => _sendQueue.Reader.Count != 0;

    ValueTask<bool> IBurstDrain.DrainAsync(CancellationToken cancellationToken) => DrainAsync();
}
