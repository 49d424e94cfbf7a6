using System.Buffers;
using System.Buffers.Binary;

namespace NvmeMptls.Transport.Tls;

/// <summary>
/// Send side: the application writes its plaintext straight into the inner stream's buffer, behind the five bytes
/// the record header will take; a record is sealed in place when it is full or at the application's flush
/// (<see cref="RecordWriter"/>). One pass over each byte besides AES-GCM, no send loop and no thread hop.
/// </summary>
public sealed partial class TlsRecordConnection
{
    /// <summary>KeyUpdate(update_not_requested): type 24, length 1, value 0 (RFC 8446 §4.6.3).</summary>
    private static readonly byte[] KeyUpdateNotRequested = [24, 0, 0, 1, 0];

    private readonly TaskCompletionSource _outputDone = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private bool _outputClosed;
    private int _keyLimitRaised;

    /// <summary>
    /// Frames and seals one record whose content already lies at <paramref name="record"/>[5..]: writes the header and
    /// the inner content type, seals in place, advances the inner writer. Caller holds the write lock.
    /// </summary>
    private void SealInPlace(Span<byte> record, int contentLength, TlsContentType contentType) =>
        Seal(record, contentLength, contentType, contentLength, default);

    /// <summary>
    /// Frames and seals one application-data record whose content is <paramref name="prefixLength"/> bytes already at
    /// <paramref name="record"/>[5..] followed by <paramref name="source"/>, which is sealed from where it lies (one pass,
    /// no copy into the record first). Caller holds the write lock.
    /// </summary>
    private void SealSpliced(Span<byte> record, int prefixLength, ReadOnlySpan<byte> source) =>
        Seal(record, prefixLength + source.Length, TlsContentType.ApplicationData, prefixLength, source);

    private void Seal(Span<byte> record, int contentLength, TlsContentType contentType, int sourceAt, ReadOnlySpan<byte> source)
    {
        int recordLength = contentLength + 1 + TlsRecordLimits.TagLength;
        // RFC 8446 §5.2: outer type application_data, legacy_record_version 0x0303, length of the ciphertext.
        record[0] = (byte)TlsContentType.ApplicationData;
        BinaryPrimitives.WriteUInt16BigEndian(record[1..], TlsRecordLimits.LegacyVersion);
        BinaryPrimitives.WriteUInt16BigEndian(record[3..], (ushort)recordLength);
        Span<byte> inner = record.Slice(TlsRecordLimits.HeaderLength, contentLength + 1);
        inner[^1] = (byte)contentType;
        Span<byte> nonce = stackalloc byte[TlsRecordLimits.NonceLength];
        _tx.WriteNonce(nonce);
        Span<byte> tag = record.Slice(TlsRecordLimits.HeaderLength + contentLength + 1, TlsRecordLimits.TagLength);
        if (source.IsEmpty)
        {
            _sealer.Seal(nonce, inner, tag, record[..TlsRecordLimits.HeaderLength]);
        }
        else
        {
            _sealer.SealFrom(nonce, inner, sourceAt, source, tag, record[..TlsRecordLimits.HeaderLength]);
        }
        _inner.Output.Advance(TlsRecordLimits.HeaderLength + recordLength);
        _tx.Advance();
        RecordsUnderWriteKey++;
        RecordsSealed++;
    }

    /// <summary>Seals a record of our own (alert, KeyUpdate) from <paramref name="content"/>. Caller holds the write lock, no application record open.</summary>
    private void SealRecord(TlsContentType contentType, ReadOnlySpan<byte> content)
    {
        Span<byte> record = _inner.Output.GetSpan(content.Length + TlsRecordLimits.SealOverhead);
        content.CopyTo(record[TlsRecordLimits.HeaderLength..]);
        SealInPlace(record, content.Length, contentType);
    }

    private void CheckKeyLimit()
    {
        if (RecordsUnderWriteKey < _options.KeyLimitRecords)
        {
            return;
        }
        if (_options.KeyLimitPolicy == TlsKeyLimitPolicy.SendKeyUpdate)
        {
            UpdateWriteKey();
            return;
        }
        // RFC 8446 §5.5: never exceed 2^24.5 full-size records under one AES-GCM key, whatever the NVMe layer does.
        if (RecordsUnderWriteKey >= TlsRecordLayerOptions.AesGcmRecordLimit)
        {
            throw new TlsRecordException(TlsAlertDescription.InternalError, false, "write key reached the AES-GCM usage limit without a reconnect");
        }
        if (Interlocked.Exchange(ref _keyLimitRaised, 1) == 0)
        {
            KeyLimitReached = true;
            TlsRecordLog.KeyLimitApproaching(_logger, RecordsUnderWriteKey);
            KeyLimitApproaching?.Invoke(this);
        }
    }

    /// <summary>Sends KeyUpdate under the current key, then switches to the next generation (RFC 8446 §4.6.3). Caller holds the write lock.</summary>
    private void UpdateWriteKey()
    {
        SealRecord(TlsContentType.Handshake, KeyUpdateNotRequested);
        TlsRecordLog.SentKeyUpdate(_logger, RecordsUnderWriteKey);
        KeyUpdatesSent++;
        TlsCryptoInfo next = _tx.NextGeneration();
        IRecordProtector sealer = _sealFactory.CreateSealer(next.Key);
        _sealer.Dispose();
        _tx.Dispose();
        _tx = next;
        _sealer = sealer;
        RecordsUnderWriteKey = 0;
    }

    /// <summary>Answers a peer's update_requested.</summary>
    private async Task SendKeyUpdateAsync()
    {
        await _writeLock.WaitAsync().ConfigureAwait(false);
        try
        {
            if (!_outputClosed)
            {
                UpdateWriteKey();
                await _inner.Output.FlushAsync().ConfigureAwait(false);
            }
        }
        finally
        {
            _writeLock.Release();
        }
    }

    /// <summary>Sends an alert (if any and if the write side is still open), then completes the inner output.</summary>
    private async Task SendAlertAndCloseAsync(TlsAlertDescription? alert)
    {
        await _writeLock.WaitAsync().ConfigureAwait(false);
        try
        {
            if (_outputClosed)
            {
                return;
            }
            _outputClosed = true;
            if (alert is { } description)
            {
                // RFC 8446 §6: close_notify is a warning (1); every error alert is fatal (2).
                byte level = description == TlsAlertDescription.CloseNotify ? (byte)1 : (byte)2;
                SealRecord(TlsContentType.Alert, [level, (byte)description]);
                await _inner.Output.FlushAsync().ConfigureAwait(false);
            }
            await _inner.Output.CompleteAsync().ConfigureAwait(false);
        }
        catch (Exception)
        {
            // The carrier is already gone (its flush throws whatever it ended with: an I/O error, or the reason it was
            // aborted with, such as a command timeout); nothing more can be said to the peer.
        }
        finally
        {
            _writeLock.Release();
            _outputDone.TrySetResult();
        }
    }
}
