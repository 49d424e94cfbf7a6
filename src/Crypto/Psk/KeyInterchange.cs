using System.Buffers.Binary;
using System.Globalization;
using System.Security.Cryptography;

namespace NvmeMptls.Crypto.Psk;

/// <summary>
/// The text form NVMe keys share (reference §4.2 for TLS PSKs, §5 for DH-HMAC-CHAP secrets):
/// <c>PREFIX HH ':' base64(key || crc32_le(key)) ':'</c>.
/// </summary>
internal static class KeyInterchange
{
    public static string Format(string prefix, byte hash, ReadOnlySpan<byte> key)
    {
        var raw = new byte[key.Length + 4];
        key.CopyTo(raw);
        BinaryPrimitives.WriteUInt32LittleEndian(raw.AsSpan(key.Length), Crc32Ieee.Compute(key));
        string text = string.Create(CultureInfo.InvariantCulture, $"{prefix}{hash:x2}:{Convert.ToBase64String(raw)}:");
        CryptographicOperations.ZeroMemory(raw);
        return text;
    }
}
