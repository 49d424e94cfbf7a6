using System.Buffers;
using System.Buffers.Binary;
using System.IO.Pipelines;

namespace NvmeMptls.Transport.Tls;

/// <summary>Receive side: inner.Input (records) → open in place → outer Input (plaintext).</summary>
public sealed partial class TlsRecordConnection
{
    private enum RecordOutcome
    {
        NeedMoreData,
        Consumed,
        Closed,
    }

    private bool _peerRequestedKeyUpdate;

    private async Task ReceiveLoopAsync()
    {
        PipeReader reader = _inner.Input;
        Exception? error = null;
        try
        {
            while (true)
            {
                ReadResult result = await reader.ReadAsync().ConfigureAwait(false);
                ReadOnlySequence<byte> buffer = result.Buffer;
                RecordOutcome outcome;
                try
                {
                    while ((outcome = TryProcessRecord(ref buffer)) == RecordOutcome.Consumed)
                    {
                    }
                }
                finally
                {
                    reader.AdvanceTo(buffer.Start, result.Buffer.End);
                }
                if (_peerRequestedKeyUpdate)
                {
                    _peerRequestedKeyUpdate = false;
                    await SendKeyUpdateAsync().ConfigureAwait(false);
                }
                FlushResult flush = await _plainIn.Writer.FlushAsync().ConfigureAwait(false);
                if (outcome == RecordOutcome.Closed || flush.IsCompleted || result.IsCanceled)
                {
                    break;
                }
                if (result.IsCompleted)
                {
                    // RFC 8446 §6.1: a close without close_notify may be a truncation attack; report it as an error.
                    throw buffer.IsEmpty
                        ? new IOException("inner stream ended without close_notify")
                        : new TlsRecordException(TlsAlertDescription.DecodeError, false, $"inner stream ended inside a record ({buffer.Length} bytes left)");
                }
            }
        }
        catch (TlsRecordException ex) when (!ex.FromPeer)
        {
            error = ex;
            TlsRecordLog.SentFatalAlert(_logger, ex.Alert, ex.Message);
            await SendAlertAndCloseAsync(ex.Alert).ConfigureAwait(false);
            _plainOut.Reader.CancelPendingRead();
        }
        catch (TlsRecordException ex)
        {
            error = ex;
            TlsRecordLog.ReceivedFatalAlert(_logger, ex.Alert);
            await SendAlertAndCloseAsync(null).ConfigureAwait(false);
            _plainOut.Reader.CancelPendingRead();
        }
        catch (Exception ex) when (ex is IOException or InvalidOperationException or OperationCanceledException)
        {
            error = ex;
        }
        ReceiveError = error;
        TlsRecordLog.ReceiveEnded(_logger, error?.Message ?? "close_notify or local close");
        await reader.CompleteAsync(error).ConfigureAwait(false);
        await _plainIn.Writer.CompleteAsync(error).ConfigureAwait(false);
    }

    private RecordOutcome TryProcessRecord(ref ReadOnlySequence<byte> buffer)
    {
        if (buffer.Length < TlsRecordLimits.HeaderLength)
        {
            return RecordOutcome.NeedMoreData;
        }
        Span<byte> header = stackalloc byte[TlsRecordLimits.HeaderLength];
        buffer.Slice(0, TlsRecordLimits.HeaderLength).CopyTo(header);
        var type = (TlsContentType)header[0];
        ushort version = BinaryPrimitives.ReadUInt16BigEndian(header[1..]);
        int length = BinaryPrimitives.ReadUInt16BigEndian(header[3..]);

        // RFC 8446 §5.2: TLSCiphertext.length MUST NOT exceed 2^14 + 256; checked before the body is awaited.
        if (length > TlsRecordLimits.MaxCiphertext)
        {
            throw new TlsRecordException(TlsAlertDescription.RecordOverflow, false, $"record length {length} exceeds 2^14+256");
        }
        // RFC 8446 §5.1: legacy_record_version MUST be 0x0303 on every record after the initial ClientHello.
        if (version != TlsRecordLimits.LegacyVersion)
        {
            throw new TlsRecordException(TlsAlertDescription.DecodeError, false, $"record version 0x{version:x4} is not 0x0303");
        }
        // RFC 8446 §5: after the handshake every record is protected, outer type application_data; a cleartext
        // alert is accepted only as a peer's last word.
        if (type is not (TlsContentType.ApplicationData or TlsContentType.Alert))
        {
            throw new TlsRecordException(TlsAlertDescription.UnexpectedMessage, false, $"record type {(byte)type} after the handshake");
        }
        if (buffer.Length < TlsRecordLimits.HeaderLength + length)
        {
            return RecordOutcome.NeedMoreData;
        }
        Span<byte> body = _recordBuffer.AsSpan(0, length);
        buffer.Slice(TlsRecordLimits.HeaderLength, length).CopyTo(body);
        buffer = buffer.Slice(TlsRecordLimits.HeaderLength + length);

        if (type == TlsContentType.Alert)
        {
            return HandleAlert(body);
        }
        // RFC 8446 §5.2: a protected record carries at least the inner content type and the tag.
        if (length < TlsRecordLimits.TagLength + 1)
        {
            throw new TlsRecordException(TlsAlertDescription.DecodeError, false, $"protected record of {length} bytes is shorter than its tag");
        }
        int cipherLength = length - TlsRecordLimits.TagLength;
        Span<byte> nonce = stackalloc byte[TlsRecordLimits.NonceLength];
        _rx.WriteNonce(nonce);
        // RFC 8446 §5.2: if decryption fails, the receiver MUST terminate the connection with a bad_record_mac alert.
        if (!_opener.TryOpen(nonce, body[..cipherLength], body[cipherLength..], header))
        {
            throw new TlsRecordException(TlsAlertDescription.BadRecordMac, false, $"record {_rx.Sequence} failed authentication");
        }
        _rx.Advance();
        RecordsOpened++;
        // RFC 8446 §5.2: TLSInnerPlaintext MUST NOT exceed 2^14 + 1 octets.
        if (cipherLength > TlsRecordLimits.MaxPlaintext + 1)
        {
            throw new TlsRecordException(TlsAlertDescription.RecordOverflow, false, $"inner plaintext of {cipherLength} bytes exceeds 2^14+1");
        }
        int end = cipherLength - 1;
        while (end >= 0 && body[end] == 0)
        {
            end--;
        }
        // RFC 8446 §5.4: an all-zero inner plaintext MUST be answered with unexpected_message.
        if (end < 0)
        {
            throw new TlsRecordException(TlsAlertDescription.UnexpectedMessage, false, "protected record has no content type");
        }
        ReadOnlySpan<byte> content = body[..end];
        switch ((TlsContentType)body[end])
        {
            case TlsContentType.ApplicationData:
                _plainIn.Writer.Write(content);
                return RecordOutcome.Consumed;
            case TlsContentType.Alert:
                return HandleAlert(content);
            case TlsContentType.Handshake:
                HandlePostHandshake(content);
                return RecordOutcome.Consumed;
            default:
                throw new TlsRecordException(TlsAlertDescription.UnexpectedMessage, false, $"inner content type {body[end]} after the handshake");
        }
    }

    private static RecordOutcome HandleAlert(ReadOnlySpan<byte> alert)
    {
        // RFC 8446 §6: an Alert is exactly level(1) + description(1).
        if (alert.Length != 2)
        {
            throw new TlsRecordException(TlsAlertDescription.DecodeError, false, $"alert of {alert.Length} bytes");
        }
        var description = (TlsAlertDescription)alert[1];
        return description switch
        {
            TlsAlertDescription.CloseNotify => RecordOutcome.Closed,
            // RFC 8446 §6.1: user_canceled is followed by close_notify; nothing to do yet.
            TlsAlertDescription.UserCanceled => RecordOutcome.Consumed,
            // RFC 8446 §6.2: every other alert is fatal, whatever its level says.
            _ => throw new TlsRecordException(description, true, $"peer sent alert {description}"),
        };
    }

    /// <summary>Post-handshake messages; each must sit whole in one record (KeyUpdate is 5 bytes).</summary>
    private void HandlePostHandshake(ReadOnlySpan<byte> messages)
    {
        while (!messages.IsEmpty)
        {
            if (messages.Length < 4)
            {
                throw new TlsRecordException(TlsAlertDescription.UnexpectedMessage, false, "handshake message split across records");
            }
            var type = (TlsHandshakeType)messages[0];
            int length = (messages[1] << 16) | (messages[2] << 8) | messages[3];
            if (messages.Length < 4 + length)
            {
                throw new TlsRecordException(TlsAlertDescription.UnexpectedMessage, false, "handshake message split across records");
            }
            ReadOnlySpan<byte> body = messages.Slice(4, length);
            switch (type)
            {
                case TlsHandshakeType.KeyUpdate:
                    HandleKeyUpdate(body);
                    break;
                case TlsHandshakeType.NewSessionTicket:
                    // RFC 8446 §4.6.1: tickets are only for resumption, which we never offer; ignoring one is allowed.
                    break;
                default:
                    throw new TlsRecordException(TlsAlertDescription.UnexpectedMessage, false, $"handshake message {(byte)type} after the handshake");
            }
            messages = messages[(4 + length)..];
        }
    }

    private void HandleKeyUpdate(ReadOnlySpan<byte> body)
    {
        // RFC 8446 §4.6.3: request_update is 0 or 1; any other value MUST be answered with illegal_parameter.
        if (body.Length != 1)
        {
            throw new TlsRecordException(TlsAlertDescription.DecodeError, false, "KeyUpdate body is not one byte");
        }
        if (body[0] > 1)
        {
            throw new TlsRecordException(TlsAlertDescription.IllegalParameter, false, $"KeyUpdate request_update {body[0]}");
        }
        TlsCryptoInfo next = _rx.NextGeneration();
        IRecordProtector opener = _openFactory.Create(next.Key);
        _opener.Dispose();
        _rx.Dispose();
        _rx = next;
        _opener = opener;
        // RFC 8446 §4.6.3: on update_requested the receiver MUST send its own KeyUpdate (update_not_requested).
        _peerRequestedKeyUpdate |= body[0] == 1;
        TlsRecordLog.PeerKeyUpdate(_logger, body[0] == 1);
        KeyUpdatesReceived++;
    }
}
