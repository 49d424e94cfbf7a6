using System.Buffers.Binary;

namespace NvmeMptls.Transport.Tls;

/// <summary>
/// Byte images of Linux <c>struct tls12_crypto_info_aes_gcm_128</c> (40 bytes) and <c>_256</c> (56 bytes) from
/// <c>include/uapi/linux/tls.h</c>: <c>u16 version; u16 cipher_type; u8 iv[8]; u8 key[16|32]; u8 salt[4]; u8 rec_seq[8]</c>.
/// For TLS 1.3 the 12-byte write IV splits into salt = iv[0..4] and iv = iv[4..12]; rec_seq is big-endian.
/// version and cipher_type are host-endian u16s (little-endian on every platform .NET runs Linux on).
/// </summary>
public static class KernelTlsCryptoInfo
{
    public const ushort CipherAesGcm128 = 51;
    public const ushort CipherAesGcm256 = 52;
    public const int VersionOffset = 0;
    public const int CipherTypeOffset = 2;
    public const int IvOffset = 4;
    public const int IvLength = 8;
    public const int KeyOffset = 12;
    public const int SaltLength = 4;
    public const int RecSeqLength = 8;
    public const int Size128 = 40;
    public const int Size256 = 56;

    public static int SizeFor(int keyLength) => keyLength == 16 ? Size128 : Size256;

    /// <summary>Fills <paramref name="destination"/> (exactly <see cref="SizeFor"/> bytes) from one direction's state.</summary>
    public static int Write(TlsCryptoInfo info, Span<byte> destination)
    {
        int keyLength = info.Key.Length;
        int size = SizeFor(keyLength);
        if (destination.Length < size)
        {
            throw new ArgumentException($"need {size} bytes", nameof(destination));
        }
        Span<byte> image = destination[..size];
        image.Clear();
        BinaryPrimitives.WriteUInt16LittleEndian(image[VersionOffset..], TlsCryptoInfo.Version);
        BinaryPrimitives.WriteUInt16LittleEndian(image[CipherTypeOffset..], keyLength == 16 ? CipherAesGcm128 : CipherAesGcm256);
        info.Iv.Slice(SaltLength, IvLength).CopyTo(image[IvOffset..]);
        info.Key.CopyTo(image[KeyOffset..]);
        int saltOffset = KeyOffset + keyLength;
        info.Iv[..SaltLength].CopyTo(image[saltOffset..]);
        BinaryPrimitives.WriteUInt64BigEndian(image[(saltOffset + SaltLength)..], info.Sequence);
        return size;
    }
}
