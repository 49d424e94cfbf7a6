using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;

namespace NvmeMptls.Crypto.Psk;

/// <summary>
/// HKDF-Expand-Label in the two framings NVMe tooling has used (reference §4.3, §4.4): the RFC 8446 §7.1
/// <c>HkdfLabel</c> structure, and libnvme 1.10–1.15's "compat" framing <c>u16_le(L) || "tls13 "+label || context</c>.
/// </summary>
public static class NvmeHkdf
{
    private const string LabelPrefix = "tls13 ";

    /// <summary>HKDF-Extract with a salt of HashLen zero bytes, then HKDF-Expand-Label (the derivation libnvme applies).</summary>
    public static byte[] ExtractThenExpandLabel(
        HashAlgorithmName hash, ReadOnlySpan<byte> ikm, string label, ReadOnlySpan<byte> context, int length, bool compat)
    {
        Span<byte> prk = stackalloc byte[64];
        int prkLength = HKDF.Extract(hash, ikm, ReadOnlySpan<byte>.Empty, prk);
        try
        {
            return ExpandLabel(hash, prk[..prkLength], label, context, length, compat);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(prk);
        }
    }

    public static byte[] ExpandLabel(
        HashAlgorithmName hash, ReadOnlySpan<byte> prk, string label, ReadOnlySpan<byte> context, int length, bool compat)
    {
        byte[] info = compat ? CompatInfo(label, context, length) : RfcInfo(label, context, length);
        var output = new byte[length];
        HKDF.Expand(hash, prk, output, info);
        return output;
    }

    /// <summary>RFC 8446 §7.1: <c>uint16 length; opaque label&lt;7..255&gt;; opaque context&lt;0..255&gt;</c>.</summary>
    public static byte[] RfcInfo(string label, ReadOnlySpan<byte> context, int length)
    {
        int labelLength = LabelPrefix.Length + Encoding.ASCII.GetByteCount(label);
        // RFC 8446 §7.1: label and context are vectors with one-byte lengths, so each MUST fit in 255 bytes.
        if (labelLength > 255 || context.Length > 255)
        {
            throw new ArgumentException($"HKDF label ({labelLength} B) or context ({context.Length} B) exceeds 255 bytes");
        }
        var info = new byte[2 + 1 + labelLength + 1 + context.Length];
        BinaryPrimitives.WriteUInt16BigEndian(info, checked((ushort)length));
        info[2] = (byte)labelLength;
        Encoding.ASCII.GetBytes(LabelPrefix + label, info.AsSpan(3));
        info[3 + labelLength] = (byte)context.Length;
        context.CopyTo(info.AsSpan(4 + labelLength));
        return info;
    }

    /// <summary>libnvme 1.10–1.15 framing: a little-endian length, then label and context with no length bytes.</summary>
    public static byte[] CompatInfo(string label, ReadOnlySpan<byte> context, int length)
    {
        int labelLength = LabelPrefix.Length + Encoding.ASCII.GetByteCount(label);
        var info = new byte[2 + labelLength + context.Length];
        BinaryPrimitives.WriteUInt16LittleEndian(info, checked((ushort)length));
        Encoding.ASCII.GetBytes(LabelPrefix + label, info.AsSpan(2));
        context.CopyTo(info.AsSpan(2 + labelLength));
        return info;
    }
}
