using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;

namespace NvmeMptls.Transport.Tls;

/// <summary>RFC 8446 §7.1 HKDF-Expand-Label with an empty context: all the record layer needs of the key schedule.</summary>
public static class TlsKeySchedule
{
    public static byte[] ExpandLabel(HashAlgorithmName hash, ReadOnlySpan<byte> secret, string label, int length)
    {
        string full = "tls13 " + label;
        Span<byte> info = stackalloc byte[2 + 1 + full.Length + 1];
        BinaryPrimitives.WriteUInt16BigEndian(info, (ushort)length);
        info[2] = (byte)full.Length;
        Encoding.ASCII.GetBytes(full, info[3..]);
        info[^1] = 0;
        var output = new byte[length];
        HKDF.Expand(hash, secret, output, info);
        return output;
    }
}
