using System.Buffers;
using System.Buffers.Binary;
using System.IO.Pipelines;

namespace NvmeMptls.Transport.Tls;

/// <summary>Send side: outer Output (plaintext) → records of at most 2^14 bytes sealed in the inner pipe's memory.</summary>
public sealed partial class TlsRecordConnection
{
    /// <summary>KeyUpdate(update_not_requested): type 24, length 1, value 0 (RFC 8446 §4.6.3).</summary>
    private static readonly byte[] KeyUpdateNotRequested = [24, 0, 0, 1, 0];

    private bool _outputClosed;
    private int _keyLimitRaised;

    private async Task SendLoopAsync()
    {
        PipeReader reader = _plainOut.Reader;
        Exception? error = null;
        try
        {
            while (true)
            {
                ReadResult result = await reader.ReadAsync().ConfigureAwait(false);
                ReadOnlySequence<byte> buffer = result.Buffer;
                bool peerGone = false;
                if (!buffer.IsEmpty)
                {
                    await _writeLock.WaitAsync().ConfigureAwait(false);
                    try
                    {
                        if (_outputClosed)
                        {
                            throw new IOException("TLS connection output is closed");
                        }
                        SealApplicationData(buffer);
                        peerGone = (await _inner.Output.FlushAsync().ConfigureAwait(false)).IsCompleted;
                    }
                    finally
                    {
                        _writeLock.Release();
                    }
                }
                reader.AdvanceTo(buffer.End);
                if (result.IsCompleted || result.IsCanceled || peerGone)
                {
                    break;
                }
            }
        }
        catch (Exception ex) when (ex is IOException or InvalidOperationException or TlsRecordException)
        {
            error = ex;
        }
        await reader.CompleteAsync(error).ConfigureAwait(false);
        // RFC 8446 §6.1: each party MUST send close_notify before closing its write side.
        await SendAlertAndCloseAsync(error is null ? TlsAlertDescription.CloseNotify : null).ConfigureAwait(false);
    }

    private void SealApplicationData(ReadOnlySequence<byte> plaintext)
    {
        int max = _options.MaxPlaintextPerRecord;
        while (!plaintext.IsEmpty)
        {
            int take = (int)Math.Min(max, plaintext.Length);
            SealRecord(TlsContentType.ApplicationData, plaintext.Slice(0, take));
            plaintext = plaintext.Slice(take);
            CheckKeyLimit();
        }
    }

    /// <summary>Frames and seals one record directly in the inner pipe's buffer: header ‖ content ‖ type ‖ tag.</summary>
    private void SealRecord(TlsContentType contentType, ReadOnlySequence<byte> content)
    {
        int contentLength = (int)content.Length;
        int recordLength = contentLength + 1 + TlsRecordLimits.TagLength;
        Span<byte> record = _inner.Output.GetSpan(TlsRecordLimits.HeaderLength + recordLength);
        // RFC 8446 §5.2: outer type application_data, legacy_record_version 0x0303, length of the ciphertext.
        record[0] = (byte)TlsContentType.ApplicationData;
        BinaryPrimitives.WriteUInt16BigEndian(record[1..], TlsRecordLimits.LegacyVersion);
        BinaryPrimitives.WriteUInt16BigEndian(record[3..], (ushort)recordLength);
        Span<byte> inner = record.Slice(TlsRecordLimits.HeaderLength, contentLength + 1);
        content.CopyTo(inner);
        inner[^1] = (byte)contentType;
        Span<byte> nonce = stackalloc byte[TlsRecordLimits.NonceLength];
        _tx.WriteNonce(nonce);
        _sealer.Seal(nonce, inner, record.Slice(TlsRecordLimits.HeaderLength + contentLength + 1, TlsRecordLimits.TagLength),
            record[..TlsRecordLimits.HeaderLength]);
        _inner.Output.Advance(TlsRecordLimits.HeaderLength + recordLength);
        _tx.Advance();
        RecordsUnderWriteKey++;
        RecordsSealed++;
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
        SealRecord(TlsContentType.Handshake, new ReadOnlySequence<byte>(KeyUpdateNotRequested));
        TlsRecordLog.SentKeyUpdate(_logger, RecordsUnderWriteKey);
        KeyUpdatesSent++;
        TlsCryptoInfo next = _tx.NextGeneration();
        IRecordProtector sealer = _sealFactory.Create(next.Key);
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
                SealRecord(TlsContentType.Alert, new ReadOnlySequence<byte>([level, (byte)description]));
                await _inner.Output.FlushAsync().ConfigureAwait(false);
            }
            await _inner.Output.CompleteAsync().ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or InvalidOperationException)
        {
            // The carrier is already gone; nothing more can be said to the peer.
        }
        finally
        {
            _writeLock.Release();
        }
    }
}
