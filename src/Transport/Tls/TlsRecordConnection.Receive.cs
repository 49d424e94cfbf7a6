using System.Buffers;
using System.Buffers.Binary;
using System.IO.Pipelines;

namespace NvmeMptls.Transport.Tls;

/// <summary>Receive side: inner.Input (records) → opened in one pass into the outer Input's buffer (plaintext).</summary>
public sealed partial class TlsRecordConnection
{
    private enum RecordOutcome
    {
        NeedMoreData,
        Consumed,
        Closed,
    }

    /// <summary>
    /// Largest post-handshake message we reassemble. A NewSessionTicket (RFC 8446 §4.6.1) can carry a 64 KiB ticket
    /// plus extensions; anything beyond this is refused rather than buffered without bound.
    /// </summary>
    internal const int MaxPostHandshakeMessage = 4 + (1 << 17);

    private bool _peerRequestedKeyUpdate;

    // The start of a post-handshake message whose rest is in the next record(s) (RFC 8446 §5.1 allows fragmenting
    // handshake messages across records). Rented when first needed, which only a fragmenting peer causes.
    private byte[]? _handshakeFragment;
    private int _handshakeFragmentLength;

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
        }
        catch (TlsRecordException ex)
        {
            error = ex;
            TlsRecordLog.ReceivedFatalAlert(_logger, ex.Alert);
            await SendAlertAndCloseAsync(null).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            // Any other end of the inner stream: its own errors, or the reason it was aborted with (a command timeout
            // aborts with TimeoutException). The loop must end with the pipes completed, never faulted: DisposeAsync
            // awaits it, and a fault there once stopped the initiator's recovery for good.
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
        ReadOnlySequence<byte> record = buffer.Slice(TlsRecordLimits.HeaderLength, length);
        buffer = buffer.Slice(TlsRecordLimits.HeaderLength + length);

        if (type == TlsContentType.Alert)
        {
            Span<byte> alert = _recordBuffer.AsSpan(0, length);
            record.CopyTo(alert);
            return HandleAlert(alert);
        }
        // RFC 8446 §5.2: a protected record carries at least the inner content type and the tag.
        if (length < TlsRecordLimits.TagLength + 1)
        {
            throw new TlsRecordException(TlsAlertDescription.DecodeError, false, $"protected record of {length} bytes is shorter than its tag");
        }
        int cipherLength = length - TlsRecordLimits.TagLength;
        Span<byte> nonce = stackalloc byte[TlsRecordLimits.NonceLength];
        Span<byte> tag = stackalloc byte[TlsRecordLimits.TagLength];
        record.Slice(cipherLength).CopyTo(tag);
        _rx.WriteNonce(nonce);
        // One pass: the record is opened from the receive buffer straight into the plaintext pipe's free memory, which
        // the NVMe/TCP reader then reads; only a record that lies across two receive segments is first copied there
        // (AES-GCM here is one-shot, so it needs its input contiguous) and opened in place. Nothing is advanced before
        // the tag verifies, so no unauthenticated byte reaches the reader.
        Span<byte> body = _plainIn.Writer.GetSpan(cipherLength)[..cipherLength];
        ReadOnlySequence<byte> ciphertext = record.Slice(0, cipherLength);
        bool opened;
        if (ciphertext.IsSingleSegment)
        {
            opened = _opener.TryOpenTo(nonce, ciphertext.FirstSpan, tag, header, body);
        }
        else
        {
            ciphertext.CopyTo(body);
            opened = _opener.TryOpen(nonce, body, tag, header);
            RecordsOpenedAcrossSegments++;
        }
        // RFC 8446 §5.2: if decryption fails, the receiver MUST terminate the connection with a bad_record_mac alert.
        if (!opened)
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
        var innerType = (TlsContentType)body[end];
        // RFC 8446 §5.1: a handshake message split over records MUST NOT have records of another type between its
        // fragments. (An alert is still read: the peer's own reason is the better error.)
        if (_handshakeFragmentLength > 0 && innerType == TlsContentType.ApplicationData)
        {
            throw new TlsRecordException(TlsAlertDescription.UnexpectedMessage, false, "application data inside a fragmented handshake message");
        }
        switch (innerType)
        {
            case TlsContentType.ApplicationData:
                _plainIn.Writer.Advance(end); // the plaintext is already where the reader takes it
                return RecordOutcome.Consumed;
            case TlsContentType.Alert:
                return HandleAlert(content);
            case TlsContentType.Handshake:
                HandlePostHandshakeRecord(content);
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

    /// <summary>
    /// One Handshake record after the handshake: whole messages are handled in place; a message cut at the record's
    /// end is kept until the records that complete it arrive.
    /// </summary>
    private void HandlePostHandshakeRecord(ReadOnlySpan<byte> content)
    {
        // RFC 8446 §5.1: implementations MUST NOT send zero-length fragments of Handshake types.
        if (content.IsEmpty)
        {
            throw new TlsRecordException(TlsAlertDescription.UnexpectedMessage, false, "zero-length handshake record");
        }
        if (_handshakeFragmentLength == 0)
        {
            int used = HandlePostHandshakeMessages(content);
            if (used < content.Length)
            {
                KeepFragment(content[used..]);
            }
            return;
        }
        KeepFragment(content);
        int consumed = HandlePostHandshakeMessages(_handshakeFragment.AsSpan(0, _handshakeFragmentLength));
        int left = _handshakeFragmentLength - consumed;
        if (left > 0)
        {
            _handshakeFragment.AsSpan(consumed, left).CopyTo(_handshakeFragment);
        }
        _handshakeFragmentLength = left;
        if (left == 0)
        {
            ArrayPool<byte>.Shared.Return(_handshakeFragment!);
            _handshakeFragment = null;
        }
    }

    /// <summary>Handles the whole messages at the start of <paramref name="messages"/>; returns the bytes they took.</summary>
    private int HandlePostHandshakeMessages(ReadOnlySpan<byte> messages)
    {
        int offset = 0;
        while (messages.Length - offset >= 4)
        {
            var type = (TlsHandshakeType)messages[offset];
            int length = (messages[offset + 1] << 16) | (messages[offset + 2] << 8) | messages[offset + 3];
            if (4 + length > MaxPostHandshakeMessage)
            {
                throw new TlsRecordException(TlsAlertDescription.UnexpectedMessage, false, $"post-handshake message {(byte)type} of {length} bytes exceeds {MaxPostHandshakeMessage - 4}");
            }
            if (messages.Length - offset < 4 + length)
            {
                break;
            }
            ReadOnlySpan<byte> body = messages.Slice(offset + 4, length);
            offset += 4 + length;
            switch (type)
            {
                case TlsHandshakeType.KeyUpdate:
                    // RFC 8446 §5.1: a KeyUpdate precedes a key change, so it MUST end its record; anything after it
                    // in the same record would be under the old key. Answer: unexpected_message.
                    if (offset != messages.Length)
                    {
                        throw new TlsRecordException(TlsAlertDescription.UnexpectedMessage, false, "KeyUpdate not aligned with the end of its record");
                    }
                    HandleKeyUpdate(body);
                    break;
                case TlsHandshakeType.NewSessionTicket:
                    // RFC 8446 §4.6.1: only a server sends NewSessionTicket, and a peer receiving a message it does not
                    // expect MUST abort with unexpected_message (§4, §6.2). A client may ignore a server's ticket: we
                    // never resume.
                    if (_isServer)
                    {
                        throw new TlsRecordException(TlsAlertDescription.UnexpectedMessage, false, "NewSessionTicket from the client");
                    }
                    break;
                default:
                    throw new TlsRecordException(TlsAlertDescription.UnexpectedMessage, false, $"handshake message {(byte)type} after the handshake");
            }
        }
        return offset;
    }

    private void KeepFragment(ReadOnlySpan<byte> bytes)
    {
        int needed = _handshakeFragmentLength + bytes.Length;
        if (needed > MaxPostHandshakeMessage)
        {
            throw new TlsRecordException(TlsAlertDescription.UnexpectedMessage, false, $"fragmented post-handshake message exceeds {MaxPostHandshakeMessage} bytes");
        }
        if (_handshakeFragment is null || _handshakeFragment.Length < needed)
        {
            byte[] bigger = ArrayPool<byte>.Shared.Rent(Math.Max(needed, 256));
            if (_handshakeFragment is not null)
            {
                _handshakeFragment.AsSpan(0, _handshakeFragmentLength).CopyTo(bigger);
                ArrayPool<byte>.Shared.Return(_handshakeFragment);
            }
            _handshakeFragment = bigger;
        }
        bytes.CopyTo(_handshakeFragment.AsSpan(_handshakeFragmentLength));
        _handshakeFragmentLength = needed;
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
        IRecordProtector opener = _openFactory.CreateOpener(next.Key);
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
