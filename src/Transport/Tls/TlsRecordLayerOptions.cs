namespace NvmeMptls.Transport.Tls;

/// <summary>What to do as a write key approaches the AES-GCM usage limit (RFC 8446 §5.5).</summary>
public enum TlsKeyLimitPolicy
{
    /// <summary>
    /// Default. Raise <see cref="TlsRecordConnection.KeyLimitApproaching"/> so the NVMe layer reconnects the queue;
    /// Linux kTLS peers (tlshd) reject KeyUpdate, so sending one would kill the connection anyway.
    /// </summary>
    ReconnectBeforeLimit,

    /// <summary>Send KeyUpdate (RFC 8446 §4.6.3) and switch to the next write key; only for peers known to accept it.</summary>
    SendKeyUpdate,
}

/// <summary>Immutable record-layer options.</summary>
public sealed record TlsRecordLayerOptions
{
    /// <summary>
    /// RFC 8446 §5.5: at most 2^24.5 full-size records per AES-GCM key. The hard limit is enforced at that count;
    /// this is when the policy acts (2^24 records, ~30% margin).
    /// </summary>
    public const long AesGcmRecordLimit = 23_726_566;

    public static TlsRecordLayerOptions Default { get; } = new();

    public TlsKeyLimitPolicy KeyLimitPolicy { get; init; } = TlsKeyLimitPolicy.ReconnectBeforeLimit;

    /// <summary>Records sealed under one key before the policy acts.</summary>
    public long KeyLimitRecords { get; init; } = 1L << 24;

    /// <summary>
    /// Plaintext per record of the default: 2^14 less the header, content type and tag, so a full record is 16 KiB on
    /// the wire and a run of full records fills a send segment (a power of two) to the byte. Records of the largest
    /// plaintext take 16406 bytes and leave the end of every segment empty: a quarter of a 64 KiB segment (three
    /// records), 6% of a 256 KiB one (fifteen).
    /// </summary>
    public const int SegmentFittingPlaintext = (1 << 14) - TlsRecordLimits.SealOverhead;

    /// <summary>Largest plaintext per record (≤ 2^14); default <see cref="SegmentFittingPlaintext"/>.</summary>
    public int MaxPlaintextPerRecord { get; init; } = SegmentFittingPlaintext;

    /// <summary>
    /// Runs the application's reader of the plaintext on the thread that opened the records, instead of handing it to
    /// the thread pool: for a protocol loop that answers each burst inline (see
    /// <see cref="Sockets.SocketConnectionOptions.InlineReaders"/>). The reader must not block.
    /// </summary>
    public bool InlineReader { get; init; }

    public void Validate()
    {
        if (KeyLimitRecords <= 0 || KeyLimitRecords > AesGcmRecordLimit)
        {
            throw new ArgumentOutOfRangeException(nameof(KeyLimitRecords), KeyLimitRecords, $"must be in 1..{AesGcmRecordLimit} (RFC 8446 §5.5)");
        }
        if (MaxPlaintextPerRecord is <= 0 or > TlsRecordLimits.MaxPlaintext)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxPlaintextPerRecord), MaxPlaintextPerRecord, "must be in 1..16384");
        }
    }
}
