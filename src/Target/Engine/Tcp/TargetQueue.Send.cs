using NvmeMptls.Target.Commands;
using NvmeMptls.Target.Server;
using NvmeMptls.Transport.Connections;
using NvmeMptls.Transport.Pdu;

namespace NvmeMptls.Target.Tcp;

public sealed partial class TargetQueue
{
    private enum SendKind : byte
    {
        IcResp,
        R2T,
        Response,
        Term,

        /// <summary>The queue is stopping: the send loop ends (posted when the loop's token fires).</summary>
        Stop,
    }

    /// <summary>What the send loop writes next. Value type: queuing one allocates nothing.</summary>
    private readonly struct SendItem
    {
        private SendItem(SendKind kind, CommandContext? context, IcRespPdu icResp, TermReqFes fes, uint fei, byte[]? header)
        {
            Kind = kind;
            Context = context;
            IcRespPdu = icResp;
            Fes = fes;
            Fei = fei;
            OffendingHeader = header;
        }

        public SendKind Kind { get; }
        public CommandContext? Context { get; }
        public IcRespPdu IcRespPdu { get; }
        public TermReqFes Fes { get; }
        public uint Fei { get; }
        public byte[]? OffendingHeader { get; }

        public static SendItem IcResp(IcRespPdu pdu) => new(SendKind.IcResp, null, pdu, default, 0, null);

        public static SendItem R2T(CommandContext ctx) => new(SendKind.R2T, ctx, default, default, 0, null);

        public static SendItem Response(CommandContext ctx) => new(SendKind.Response, ctx, default, default, 0, null);

        public static SendItem Term(TermReqFes fes, uint fei, byte[] header) => new(SendKind.Term, null, default, fes, fei, header);

        public static SendItem Stop => new(SendKind.Stop, null, default, default, 0, null);
    }

    /// <summary>Bytes written before a flush (which waits when the peer does not read): bounds memory per connection.</summary>
    private const long MaxUnflushed = 1L << 20;

    /// <summary>Why writing answers stopped for good (0 while it goes on).</summary>
    private enum SendEnd
    {
        None,

        /// <summary>The queue's token fired (the Stop item, or a kick with the stop flag in burst mode).</summary>
        Stopped,

        /// <summary>A TermReq was written: close after its flush, send nothing more (reference §1.5).</summary>
        CloseAfterTerm,

        /// <summary>The connection's output is closed.</summary>
        OutputClosed,
    }

    private int _sendEnd; // SendEnd, set once by the drain that met the end

    /// <summary>The send task: waits for answers (loop mode) or kicks (burst mode) and drains them into the socket.</summary>
    private async Task SendLoopAsync(CancellationToken ct)
    {
        using var wake = _burst is null ? SendLoopStop.PostOnCancel(_send.Writer, SendItem.Stop, ct) : default;
        try
        {
            if (_burst is not null)
            {
                if (await _burst.RunAsync(ct).ConfigureAwait(false))
                {
                    EndSending(SendEnd.Stopped);
                }
            }
            else
            {
                while (await _send.Reader.WaitToReadAsync(CancellationToken.None).ConfigureAwait(false) && !await DrainAsync(ct).ConfigureAwait(false))
                {
                }
            }
        }
        catch (OperationCanceledException)
        {
            // aborted: the connection is being torn down
        }
        catch (Exception ex) when (ex is IOException or InvalidOperationException or ObjectDisposedException)
        {
            SetEndReason(ConnectionEndReason.ConnectionLost, $"send failed: {ex.Message}");
            await _abort.CancelAsync().ConfigureAwait(false);
        }

        if ((SendEnd)Volatile.Read(ref _sendEnd) == SendEnd.CloseAfterTerm)
        {
            // After a TermReq nothing else is sent (reference §1.5): give the host a moment to read it, then close.
            await _connection.Output.CompleteAsync().ConfigureAwait(false);
            _abort.CancelAfter(TimeSpan.FromSeconds(2));
        }

        // Drop what is left: those commands end with the connection (the host retries them on reconnect).
        while (_send.Reader.TryRead(out var item))
        {
            if (item.Context is { } ctx)
            {
                _slots.Release(ctx);
            }
        }
    }

    /// <summary>
    /// Writes the queued answers and flushes, in batches of at most <see cref="MaxUnflushed"/> bytes, until none is
    /// left or the sending ends. The caller is the one writer (the send task, or in burst mode the holder of the write
    /// lock). Allocates nothing unless a flush waits for the peer. True when sending is over (<see cref="_sendEnd"/> says why).
    /// </summary>
    [System.Runtime.CompilerServices.AsyncMethodBuilder(typeof(System.Runtime.CompilerServices.PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<bool> DrainAsync(CancellationToken ct)
    {
        var reader = _send.Reader;
        while (true)
        {
            var end = (SendEnd)Volatile.Read(ref _sendEnd);
            if (end != SendEnd.None)
            {
                return true;
            }

            var wrote = false;
            while (end == SendEnd.None && _writer.UnflushedBytes < MaxUnflushed && reader.TryRead(out var item))
            {
                if (item.Kind == SendKind.Stop)
                {
                    return EndSending(SendEnd.Stopped);
                }

                wrote = true;
                if (WriteItem(item))
                {
                    end = SendEnd.CloseAfterTerm;
                }
            }

            if (!wrote)
            {
                return false;
            }

            FlushStarting(); // send-stall deadline (TargetQueue.Deadlines.cs)
            var flush = await _writer.FlushAsync(ct).ConfigureAwait(false);
            FlushDone();
            if (end != SendEnd.None)
            {
                return EndSending(end);
            }

            if (flush.IsCompleted)
            {
                return EndSending(SendEnd.OutputClosed);
            }
        }
    }

    /// <summary>Records why sending ended (the first reason wins); true, for the drain to return.</summary>
    private bool EndSending(SendEnd end)
    {
        Interlocked.CompareExchange(ref _sendEnd, (int)end, (int)SendEnd.None);
        return true;
    }

    /// <summary>Writes one item; returns true when the connection must close after this flush.</summary>
    private bool WriteItem(in SendItem item)
    {
        switch (item.Kind)
        {
            case SendKind.IcResp:
                _writer.WriteIcResp(item.IcRespPdu);
                return false;
            case SendKind.R2T:
                var r2tCtx = item.Context!;
                _writer.WriteR2T(new R2TPdu(r2tCtx.Command.CommandId, r2tCtx.Slot, 0, (uint)r2tCtx.TransferLength));
                return false;
            case SendKind.Response:
                WriteResponse(item.Context!);
                return false;
            case SendKind.Term:
                _writer.WriteTermReq(PduRole.Controller, item.Fes, item.Fei, item.OffendingHeader);
                return true;
            default:
                throw new InvalidOperationException($"send item {item.Kind} is handled by the send loop");
        }
    }

    private void WriteResponse(CommandContext ctx)
    {
        var cqe = ctx.Completion;
        cqe.CommandId = ctx.Command.CommandId;
        cqe.SqId = _qid;
        cqe.SqHead = CurrentSqHead;
        var dataLength = ctx.ResponseDataLength;
        if (dataLength > 0)
        {
            // NVMe/TCP §3.3.5: with SQ flow control disabled a successful read may end with SUCCESS and no CapsuleResp.
            var success = _sqFlowControlDisabled && cqe.Status.IsSuccess && cqe.Dw0 == 0 && cqe.Dw1 == 0;
            var pdu = new C2HDataPdu(ctx.Command.CommandId, 0, (uint)dataLength);
            if (!(dataLength >= _writer.MinSpliceLength && _writer.CanSplice && TrySpliceData(ctx, pdu, success)))
            {
                _writer.WriteC2HData(pdu, ctx.ResponseData, last: true, success);
            }
            if (!success)
            {
                _writer.WriteCapsuleResp(cqe);
            }
        }
        else
        {
            _writer.WriteCapsuleResp(cqe);
        }

        _commands.OnResponseSent(ctx);
        _slots.Release(ctx);
    }

    /// <summary>
    /// Gathered send of a read's data (plain TCP/MPTCP, kTLS): the buffer leaves the slot, which is released now as
    /// before, and goes back to the connection's budget when the socket took it (<see cref="OnSpliceCompleted"/>). The
    /// host may reuse the command id and slot as soon as it has the response; the buffer is no longer the slot's, so a
    /// new command gets a new buffer and the bytes on the wire cannot change.
    /// </summary>
    private bool TrySpliceData(CommandContext ctx, in C2HDataPdu pdu, bool success)
    {
        if (!ctx.TryDetachResponseBuffer(_buffers, out var data))
        {
            return false; // admin data, or a buffer from the shared array pool
        }

        if (Interlocked.Increment(ref _splicesPending) == 1)
        {
            Volatile.Write(ref _spliceProgressSince, _registry.Time.GetTimestamp());
        }

        if (!_writer.TryWriteC2HDataSpliced(pdu, data, last: true, success, this, data.Array))
        {
            throw new InvalidOperationException("the writer refused a splice its own checks allowed"); // unreachable: checked by the caller
        }

        return true;
    }

    /// <summary>The socket took a spliced read buffer, or the connection ended without sending it: it goes back to the budget.</summary>
    void IOutputSpliceCompletion.OnSpliceCompleted(object? token, bool sent)
    {
        Volatile.Write(ref _spliceProgressSince, _registry.Time.GetTimestamp());
        Interlocked.Decrement(ref _splicesPending);
        _buffers.ReturnDetached((byte[])token!);
    }

    void ICommandQueue.Send(CommandContext ctx)
    {
        if (!Post(SendItem.Response(ctx)))
        {
            _slots.Release(ctx); // the connection is closing
        }
    }
}
