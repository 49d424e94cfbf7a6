using System.Buffers.Binary;
using System.Security.Cryptography;

namespace NvmeMptls.Transport.Tls;

/// <summary>
/// The state of one direction of a TLS 1.3 connection, as kTLS's <c>tls12_crypto_info_*</c> holds it: version,
/// suite, key, IV, record sequence number — plus the traffic secret so KeyUpdate can derive the next keys
/// (RFC 8446 §7.2). Zeroes its key material on dispose.
/// </summary>
public sealed class TlsCryptoInfo : IDisposable
{
    private readonly byte[] _secret;
    private readonly byte[] _key;
    private readonly byte[] _iv;

    private TlsCryptoInfo(ushort cipherSuite, byte[] secret, byte[] key, byte[] iv, ulong sequence)
    {
        CipherSuite = cipherSuite;
        _secret = secret;
        _key = key;
        _iv = iv;
        Sequence = sequence;
    }

    public static ushort Version => TlsRecordLimits.Tls13Version;
    public ushort CipherSuite { get; }
    public ReadOnlySpan<byte> Key => _key;
    public ReadOnlySpan<byte> Iv => _iv;
    public ReadOnlySpan<byte> TrafficSecret => _secret;

    /// <summary>Sequence number of the next record in this direction (RFC 8446 §5.3).</summary>
    public ulong Sequence { get; private set; }

    /// <summary>Keys from a traffic secret: key = HKDF-Expand-Label(secret, "key", "", keylen), iv likewise ("iv", 12) — RFC 8446 §7.3.</summary>
    public static TlsCryptoInfo FromTrafficSecret(ushort cipherSuite, ReadOnlySpan<byte> secret, ulong sequence = 0)
    {
        var (hash, keyLength) = SuiteParameters(cipherSuite);
        if (secret.Length != HashLength(hash))
        {
            throw new ArgumentException($"traffic secret of {secret.Length} bytes does not fit suite 0x{cipherSuite:x4}", nameof(secret));
        }
        byte[] key = TlsKeySchedule.ExpandLabel(hash, secret, "key", keyLength);
        byte[] iv = TlsKeySchedule.ExpandLabel(hash, secret, "iv", TlsRecordLimits.NonceLength);
        return new TlsCryptoInfo(cipherSuite, secret.ToArray(), key, iv, sequence);
    }

    /// <summary>RFC 8446 §7.2: application_traffic_secret_N+1 = HKDF-Expand-Label(secret_N, "traffic upd", "", Hash.length); sequence restarts at 0.</summary>
    public TlsCryptoInfo NextGeneration()
    {
        var (hash, _) = SuiteParameters(CipherSuite);
        byte[] next = TlsKeySchedule.ExpandLabel(hash, _secret, "traffic upd", _secret.Length);
        try
        {
            return FromTrafficSecret(CipherSuite, next);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(next);
        }
    }

    /// <summary>RFC 8446 §5.3: the 64-bit sequence number, big-endian and left-padded to iv_length, XORed with the IV.</summary>
    public void WriteNonce(Span<byte> nonce)
    {
        _iv.CopyTo(nonce);
        ulong tail = BinaryPrimitives.ReadUInt64BigEndian(nonce[4..]);
        BinaryPrimitives.WriteUInt64BigEndian(nonce[4..], tail ^ Sequence);
    }

    /// <summary>Advances after a record; RFC 8446 §5.3: the sequence number MUST NOT wrap.</summary>
    public void Advance()
    {
        if (Sequence == ulong.MaxValue)
        {
            throw new TlsRecordException(TlsAlertDescription.InternalError, false, "record sequence number would wrap");
        }
        Sequence++;
    }

    public static string SuiteName(ushort cipherSuite) => cipherSuite switch
    {
        0x1301 => "TLS_AES_128_GCM_SHA256",
        0x1302 => "TLS_AES_256_GCM_SHA384",
        _ => $"0x{cipherSuite:x4}",
    };

    private static (HashAlgorithmName Hash, int KeyLength) SuiteParameters(ushort cipherSuite) => cipherSuite switch
    {
        0x1301 => (HashAlgorithmName.SHA256, 16),
        0x1302 => (HashAlgorithmName.SHA384, 32),
        _ => throw new NotSupportedException($"cipher suite 0x{cipherSuite:x4} is not supported by this record layer"),
    };

    private static int HashLength(HashAlgorithmName hash) => hash == HashAlgorithmName.SHA256 ? 32 : 48;

    public void Dispose()
    {
        CryptographicOperations.ZeroMemory(_secret);
        CryptographicOperations.ZeroMemory(_key);
        CryptographicOperations.ZeroMemory(_iv);
    }
}
