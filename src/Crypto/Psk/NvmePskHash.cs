using System.Security.Cryptography;

namespace NvmeMptls.Crypto.Psk;

/// <summary>
/// Hash identifiers of NVMe TLS PSKs (reference §4.2/§4.3): the <c>HH</c> field of the interchange format and
/// the <c>cc</c> field of an identity. <see cref="None"/> only appears as HH ("configured key used as retained key").
/// </summary>
public enum NvmePskHash : byte
{
    None = 0x00,
    Sha256 = 0x01,
    Sha384 = 0x02,
}

/// <summary>Facts derived from an <see cref="NvmePskHash"/>.</summary>
public static class NvmePskHashes
{
    public static HashAlgorithmName AlgorithmName(NvmePskHash hash) => hash switch
    {
        NvmePskHash.Sha256 => HashAlgorithmName.SHA256,
        NvmePskHash.Sha384 => HashAlgorithmName.SHA384,
        _ => throw new ArgumentOutOfRangeException(nameof(hash), hash, "only SHA-256 (01) and SHA-384 (02) name a hash"),
    };

    public static int Length(NvmePskHash hash) => hash switch
    {
        NvmePskHash.Sha256 => 32,
        NvmePskHash.Sha384 => 48,
        _ => throw new ArgumentOutOfRangeException(nameof(hash), hash, "only SHA-256 (01) and SHA-384 (02) name a hash"),
    };

    /// <summary>Reference §4.3 step 1: HH if non-zero, else chosen by the key length (32 → 01, 48 → 02).</summary>
    public static NvmePskHash ForKeyLength(int keyLength) => keyLength switch
    {
        32 => NvmePskHash.Sha256,
        48 => NvmePskHash.Sha384,
        _ => throw new ArgumentOutOfRangeException(nameof(keyLength), keyLength, "NVMe TLS keys are 32 or 48 bytes"),
    };

    /// <summary>IANA TLS 1.3 suite that pairs with a PSK of this hash (0x1301 / 0x1302).</summary>
    public static ushort CipherSuite(NvmePskHash hash) => hash switch
    {
        NvmePskHash.Sha256 => 0x1301,
        NvmePskHash.Sha384 => 0x1302,
        _ => throw new ArgumentOutOfRangeException(nameof(hash), hash, "no TLS suite for this hash"),
    };
}
