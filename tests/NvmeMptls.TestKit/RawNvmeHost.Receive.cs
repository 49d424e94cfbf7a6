using NvmeMptls.Transport.Nvme;
using NvmeMptls.Transport.Pdu;

namespace NvmeMptls.TestKit;

/// <summary>
/// The receive side of <see cref="RawNvmeHost"/>: no loop of its own. A caller waiting for its completion takes
/// the reader, reads one PDU, delivers it to whichever command it belongs to, and lets the reader go again; so
/// pipelined commands share one reader, and a test may read PDUs itself whenever nothing is outstanding.
/// </summary>
public sealed partial class RawNvmeHost
{
    private async Task<NvmeCompletion> ReceiveUntilDoneAsync(Pending pending)
    {
        while (!pending.Done.Task.IsCompleted)
        {
            var turn = _receiveLock.WaitAsync();
            if (await Task.WhenAny(pending.Done.Task, turn).ConfigureAwait(false) != turn)
            {
                // Another waiter read our completion while we queued for the reader: pass the turn on when it comes.
                _ = turn.ContinueWith(static (_, l) => ((SemaphoreSlim)l!).Release(), _receiveLock, CancellationToken.None,
                    TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
                break;
            }

            try
            {
                if (!pending.Done.Task.IsCompleted)
                {
                    await ReceiveOneAsync().ConfigureAwait(false);
                }
            }
            catch (Exception ex)
            {
                FailAll(ex);
            }
            finally
            {
                _receiveLock.Release();
            }
        }

        return await pending.Done.Task.ConfigureAwait(false);
    }

    private async Task ReceiveOneAsync()
    {
        var token = _disposed.Token;
        if (!await Reader.ReadHeaderAsync(token).ConfigureAwait(false))
        {
            throw new EndOfStreamException("target closed the connection");
        }

        switch (Reader.Common.Type)
        {
            case PduType.CapsuleResp:
                var cqe = CapsuleRespPdu.ReadCompletion(Reader.Header);
                Take(cqe.CommandId, "CapsuleResp").Done.TrySetResult(cqe);
                break;
            case PduType.C2HData:
                var c2h = C2HDataPdu.Read(Reader.Header);
                var reading = Find(c2h.CommandId, "C2HData");
                if (reading.ReadBuffer is not { } buffer || c2h.DataOffset != reading.Received)
                {
                    throw new InvalidDataException($"C2HData at {c2h.DataOffset} for command {c2h.CommandId}, which expects data at {(reading.ReadBuffer is null ? "none" : reading.Received)}");
                }

                if (!await Reader.ReadDataAsync(buffer.Slice(reading.Received, Reader.DataLength), token).ConfigureAwait(false))
                {
                    throw new InvalidDataException($"C2H data digest mismatch on command {c2h.CommandId}");
                }

                reading.Received += (int)c2h.DataLength;
                if ((Reader.Common.Flags & PduFlags.Success) != 0)
                {
                    Take(c2h.CommandId, "C2HData").Done.TrySetResult(new NvmeCompletion { CommandId = c2h.CommandId });
                }

                break;
            case PduType.R2T:
                var r2t = R2TPdu.Read(Reader.Header);
                await AnswerR2TAsync(r2t, Find(r2t.CommandId, "R2T").WriteData).ConfigureAwait(false);
                break;
            case PduType.C2HTermReq:
                var term = C2HTermReqPdu.Read(Reader.Header);
                await Reader.SkipDataAsync(token).ConfigureAwait(false);
                throw new TermReqReceivedException(term.Fes, term.Fei);
            default:
                throw new InvalidDataException($"unexpected {Reader.Common.Type} from the controller");
        }
    }

    private async Task AnswerR2TAsync(R2TPdu r2t, ReadOnlyMemory<byte> data)
    {
        var offset = (int)r2t.Offset;
        var end = offset + (int)r2t.Length;
        if (end > data.Length)
        {
            throw new InvalidDataException($"R2T for bytes {offset}..{end} of command {r2t.CommandId}, which writes {data.Length}");
        }

        await _sendLock.WaitAsync().ConfigureAwait(false);
        try
        {
            while (offset < end)
            {
                var n = Math.Min(end - offset, (int)_settings.MaxH2CData);
                Writer.WriteH2CData(new H2CDataPdu(r2t.CommandId, r2t.TransferTag, (uint)offset, (uint)n), data.Span.Slice(offset, n), last: offset + n == end);
                offset += n;
            }

            await Writer.FlushAsync().ConfigureAwait(false);
        }
        finally
        {
            _sendLock.Release();
        }
    }

    private Pending Find(ushort commandId, string pdu) =>
        _pending.TryGetValue(commandId, out var p) ? p : throw new InvalidDataException($"{pdu} for command {commandId}, which is not outstanding");

    private Pending Take(ushort commandId, string pdu) =>
        _pending.TryRemove(commandId, out var p) ? p : throw new InvalidDataException($"{pdu} for command {commandId}, which is not outstanding");

    /// <summary>
    /// Fails every outstanding command. A TermReq, a closed stream or a surprising PDU reaches the callers as it
    /// is; anything else (a reset socket, disposal) as an <see cref="IOException"/>, as a real host sees a lost queue.
    /// </summary>
    private void FailAll(Exception ex)
    {
        var reported = ex is IOException or TermReqReceivedException or InvalidDataException ? ex : new IOException("connection failed", ex);
        Fault ??= reported;
        foreach (var cid in _pending.Keys)
        {
            if (_pending.TryRemove(cid, out var p))
            {
                p.Done.TrySetException(reported);
            }
        }
    }

    private sealed class Pending(ReadOnlyMemory<byte> writeData, Memory<byte>? readBuffer)
    {
        public ReadOnlyMemory<byte> WriteData { get; } = writeData;

        public Memory<byte>? ReadBuffer { get; } = readBuffer;

        public int Received { get; set; }

        public TaskCompletionSource<NvmeCompletion> Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
