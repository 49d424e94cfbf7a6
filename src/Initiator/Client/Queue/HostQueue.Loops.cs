using NvmeMptls.Transport.Connections;
using NvmeMptls.Transport.Nvme;
using NvmeMptls.Transport.Pdu;

namespace NvmeMptls.Initiator.Queue;

/// <summary>The two loops of a host queue and the single place where a queue ends.</summary>
internal sealed partial class HostQueue
{
    private async Task SendLoopAsync()
    {
        var reader = _sendQueue.Reader;
        using var wake = SendLoopStop.PostOnCancel(_sendQueue.Writer, new SendItem(SendKind.Stop, null, 0, 0, 0), _stop.Token);
        try
        {
            while (await reader.WaitToReadAsync().ConfigureAwait(false))
            {
                while (reader.TryRead(out var item))
                {
                    if (item.Kind == SendKind.Stop)
                    {
                        return;
                    }

                    if (item.Kind == SendKind.TermReq)
                    {
                        // Reference §1.5: after a TermReq nothing else is sent on the connection.
                        _writer.WriteTermReq(PduRole.Host, (TermReqFes)item.TransferTag, item.Offset, _termHeader.AsSpan(0, _termHeaderLength));
                        await _writer.FlushAsync(_stop.Token).ConfigureAwait(false);
                        return;
                    }

                    Write(item);
                    if (_writer.UnflushedBytes >= FlushThreshold && (await _writer.FlushAsync(_stop.Token).ConfigureAwait(false)).IsCompleted)
                    {
                        return;
                    }
                }

                if ((await _writer.FlushAsync(_stop.Token).ConfigureAwait(false)).IsCompleted)
                {
                    return;
                }
            }
        }
#pragma warning disable CA1031 // a flush throws whatever the connection ended with (an abort reason may be any exception)
        catch (Exception ex)
#pragma warning restore CA1031
        {
            OnSendFailed(ex);
        }
    }

    /// <summary>A send failed: the receive loop owns the queue's end, so make sure it notices.</summary>
    private void OnSendFailed(Exception ex)
    {
        if (!_stop.IsCancellationRequested)
        {
            _connection.Abort(ex);
            _connection.Input.CancelPendingRead();
        }
    }

    private void Write(in SendItem item)
    {
        var context = item.Context!;
        if (item.Kind == SendKind.Command)
        {
            _writer.WriteCapsuleCmd(context.Command, context.InCapsule ? context.WriteData.Span : default);
            return;
        }

        // One R2T: split at MAXH2CDATA, LAST_PDU on the last H2CData of this R2T (reference §1.7).
        var data = context.WriteData.Span.Slice((int)item.Offset, (int)item.Length);
        var max = (int)Settings.MaxH2CData;
        var sent = 0;
        while (sent < data.Length)
        {
            var n = Math.Min(max, data.Length - sent);
            var last = sent + n == data.Length;
            _writer.WriteH2CData(new H2CDataPdu(context.CommandId, item.TransferTag, item.Offset + (uint)sent, (uint)n), data.Slice(sent, n), last);
            sent += n;
        }

        context.SendingR2TData = false;
    }

    private async Task ReceiveLoopAsync()
    {
        Exception cause;
        PduException? protocolError = null;
        try
        {
            while (true)
            {
                if (!await _reader.ReadHeaderAsync(_stop.Token).ConfigureAwait(false))
                {
                    throw new EndOfStreamException("the controller closed the connection");
                }

                switch (_reader.Common.Type)
                {
                    case PduType.CapsuleResp:
                        OnCapsuleResp();
                        break;
                    case PduType.C2HData:
                        await OnC2HDataAsync().ConfigureAwait(false);
                        break;
                    case PduType.R2T:
                        OnR2T();
                        break;
                    case PduType.C2HTermReq:
                        var term = C2HTermReqPdu.Read(_reader.Header);
                        await _reader.SkipDataAsync(_stop.Token).ConfigureAwait(false);
                        throw new TermReqReceivedException(term.Fes, term.Fei);
                    default:
                        throw PduException.Sequence($"{_reader.Common.Type} after the connection was initialized");
                }
            }
        }
        catch (PduException ex)
        {
            protocolError = ex;
            cause = ex;
        }
        catch (Exception ex)
        {
            cause = ex;
        }

        await FailAllAsync(cause, protocolError).ConfigureAwait(false);
    }

    private CommandContext Lookup(ushort commandId, int fieldOffset, string pdu)
    {
        if (commandId >= _contexts.Length || !_contexts[commandId].IsActive)
        {
            throw PduException.HeaderField(fieldOffset, $"{pdu} for command id {commandId}, which is not outstanding");
        }

        return _contexts[commandId];
    }

    private void OnCapsuleResp()
    {
        var completion = CapsuleRespPdu.ReadCompletion(_reader.Header);
        var context = Lookup(completion.CommandId, CapsuleRespPdu.CommandIdFieldOffset, "CapsuleResp");

        // The slot's buffers must stay untouched until the send loop has written all R2T data.
        if (context.SendingR2TData)
        {
            throw PduException.Sequence($"CapsuleResp for command id {completion.CommandId} while its H2CData is still being sent");
        }

        if (context.DataDigestFailed && completion.Status.IsSuccess)
        {
            completion.Status = new NvmeStatus(NvmeStatusCodes.TransientTransportError);
        }

        context.TryComplete(completion);
    }

    [System.Runtime.CompilerServices.AsyncMethodBuilder(typeof(System.Runtime.CompilerServices.PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask OnC2HDataAsync()
    {
        var pdu = C2HDataPdu.Read(_reader.Header);
        var flags = _reader.Common.Flags;
        var context = Lookup(pdu.CommandId, C2HDataPdu.CommandIdFieldOffset, "C2HData");

        // Reference §1.7: data arrives in order and within the command's buffer; anything else is FES 04h.
        if (context.ReadBuffer.IsEmpty)
        {
            throw new PduException(TermReqFes.DataTransferOutOfRange, 0, $"C2HData for command id {pdu.CommandId}, which reads no data");
        }

        if (pdu.DataLength != (uint)_reader.DataLength)
        {
            throw PduException.HeaderField(C2HDataPdu.DataLengthFieldOffset, $"C2HData DATAL {pdu.DataLength} but PLEN carries {_reader.DataLength} bytes");
        }

        if (pdu.DataOffset != (uint)context.Received || (ulong)pdu.DataOffset + pdu.DataLength > (ulong)context.ReadBuffer.Length)
        {
            throw new PduException(TermReqFes.DataTransferOutOfRange, 0,
                $"C2HData DATAO {pdu.DataOffset} DATAL {pdu.DataLength} outside command id {pdu.CommandId}'s {context.ReadBuffer.Length} bytes (expected DATAO {context.Received})");
        }

        // Reference §1.7: SUCCESS is only valid together with LAST_PDU.
        var last = (flags & PduFlags.Last) != 0;
        var success = (flags & PduFlags.Success) != 0;
        if (success && !last)
        {
            throw PduException.HeaderField(PduCommonHeader.FlagsOffset, "C2HData with SUCCESS but without LAST_PDU");
        }

        var destination = context.ReadBuffer.Slice((int)pdu.DataOffset, (int)pdu.DataLength);
        if (!await _reader.ReadDataAsync(destination, _stop.Token).ConfigureAwait(false))
        {
            // Reference §1.5: a data digest error fails the command, not the connection.
            context.DataDigestFailed = true;
            Log.DataDigestMismatch(_logger, QueueId, pdu.CommandId, pdu.DataOffset, pdu.DataLength);
        }

        context.Received += (int)pdu.DataLength;
        if (last && success)
        {
            var status = context.DataDigestFailed ? new NvmeStatus(NvmeStatusCodes.TransientTransportError) : NvmeStatus.Success;
            context.TryComplete(new NvmeCompletion { CommandId = pdu.CommandId, SqId = QueueId, SqHead = 0xFFFF, Status = status });
        }
    }

    private void OnR2T()
    {
        var r2t = R2TPdu.Read(_reader.Header);
        var context = Lookup(r2t.CommandId, R2TPdu.CommandIdFieldOffset, "R2T");
        if (context.WriteData.IsEmpty || context.InCapsule)
        {
            throw PduException.Sequence($"R2T for command id {r2t.CommandId}, which has no data to send by R2T");
        }

        // We sent MAXR2T 0: one R2T outstanding per command.
        if (context.SendingR2TData)
        {
            throw new PduException(TermReqFes.DataTransferLimitExceeded, 0, $"second R2T for command id {r2t.CommandId} before the first was answered");
        }

        if (r2t.Length == 0)
        {
            throw PduException.HeaderField(R2TPdu.LengthFieldOffset, $"R2T for command id {r2t.CommandId} with R2TL 0");
        }

        if (r2t.Offset != (uint)context.Granted || (ulong)r2t.Offset + r2t.Length > (ulong)context.WriteData.Length)
        {
            throw new PduException(TermReqFes.DataTransferOutOfRange, 0,
                $"R2T R2TO {r2t.Offset} R2TL {r2t.Length} outside command id {r2t.CommandId}'s {context.WriteData.Length} bytes (expected R2TO {context.Granted})");
        }

        context.Granted += (int)r2t.Length;
        context.SendingR2TData = true;
        Post(new SendItem(SendKind.R2TData, context, r2t.TransferTag, r2t.Offset, r2t.Length));
    }

    /// <summary>The one place a queue ends: TermReq if we found a protocol error, close, fail every command, tell the owner.</summary>
    private async Task FailAllAsync(Exception cause, PduException? protocolError)
    {
        if (Interlocked.Exchange(ref _failed, 1) != 0)
        {
            return;
        }

        if (protocolError is not null && !_closing)
        {
            Log.TermReqSent(_logger, QueueId, (ushort)protocolError.Fes, protocolError.Fei, protocolError.Message);
            var header = _reader.OffendingHeader;
            header.CopyTo(_termHeader);
            _termHeaderLength = header.Length;
            _sendQueue.Writer.TryWrite(new SendItem(SendKind.TermReq, null, (ushort)protocolError.Fes, protocolError.Fei, 0));
        }

        CompleteSending();
        if (_watchdog is not null)
        {
            await _watchdog.DisposeAsync().ConfigureAwait(false);
        }

        if (protocolError is not null && !_closing)
        {
            // Let the TermReq go out (bounded: a stuck peer must not hold the recovery).
            await Task.WhenAny(_sendLoop, Task.Delay(TimeSpan.FromSeconds(1), Time)).ConfigureAwait(false);
        }

        await _stop.CancelAsync().ConfigureAwait(false);

        // The send loop may be writing into the output pipe on another thread; completing the pipe under it (dispose,
        // abort) made its next Advance throw ArgumentOutOfRangeException, which then failed this method before any
        // command was failed. Every wait of the loop is cancelled now and the channel is complete, so it ends at
        // once; bounded all the same.
        await Task.WhenAny(_sendLoop, Task.Delay(TimeSpan.FromSeconds(1), Time)).ConfigureAwait(false);
        CloseWriter();
        if (protocolError is not null || _closing)
        {
            // Reference §1.5: after a TermReq the sender closes; a reset could make the peer drop the TermReq unread.
            await CloseConnectionAsync().ConfigureAwait(false);
        }
        else
        {
            _connection.Abort(cause);
        }

        // The loop's own end is not this queue's cause; every command must still be failed below.
        await _sendLoop.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);

        foreach (var context in _contexts)
        {
            context.TryFail(new QueueLostException(QueueId, cause));
        }

        if (!_closing)
        {
            Log.QueueLost(_logger, QueueId, cause.GetType().Name, cause.Message);
            _onLost?.Invoke(this, cause);
        }
    }
}
