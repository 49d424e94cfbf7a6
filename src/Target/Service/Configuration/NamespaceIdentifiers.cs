using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;

namespace NvmeMptls.Target.Configuration;

/// <summary>
/// Stable identifiers for subsystems and namespaces. The Linux host ignores a namespace whose NGUID/UUID
/// duplicates another's (nvme-tcp.md §3.4) and builds /dev/disk/by-id from them, so defaults are derived from
/// the subsystem NQN and NSID with SHA-256: unique in practice, and the same on every restart and every path.
/// </summary>
public static class NamespaceIdentifiers
{
    public static UInt128 DeriveNguid(string subsystemNqn, uint nsid)
    {
        Span<byte> hash = stackalloc byte[32];
        Hash("nvmemptls/nguid", subsystemNqn, nsid, hash);

        // Zero is "no NGUID reported"; a SHA-256 prefix of zero is not going to happen, but never emit it.
        UInt128 value = BinaryPrimitives.ReadUInt128BigEndian(hash);
        return value == UInt128.Zero ? UInt128.One : value;
    }

    /// <summary>A UUID with the RFC 9562 version 8 (vendor-specific) and variant bits set over a SHA-256 prefix.</summary>
    public static Guid DeriveUuid(string subsystemNqn, uint nsid)
    {
        Span<byte> hash = stackalloc byte[32];
        Hash("nvmemptls/uuid", subsystemNqn, nsid, hash);
        hash[6] = (byte)((hash[6] & 0x0F) | 0x80);
        hash[8] = (byte)((hash[8] & 0x3F) | 0x80);
        return new Guid(hash[..16], bigEndian: true);
    }

    /// <summary>20 upper-case hex characters: fits the 20-byte SN field exactly.</summary>
    public static string DeriveSerial(string subsystemNqn)
    {
        Span<byte> hash = stackalloc byte[32];
        SHA256.HashData(Encoding.UTF8.GetBytes("nvmemptls/serial\0" + subsystemNqn), hash);
        return Convert.ToHexString(hash[..10]);
    }

    /// <summary>32 hex digits, optionally with dashes or a 0x prefix; false for anything else or for all zeroes.</summary>
    public static bool TryParseNguid(string? text, out UInt128 nguid)
    {
        nguid = UInt128.Zero;
        if (string.IsNullOrWhiteSpace(text))
        {
            return false;
        }

        string hex = text.Trim().Replace("-", "", StringComparison.Ordinal);
        if (hex.StartsWith("0x", StringComparison.OrdinalIgnoreCase))
        {
            hex = hex[2..];
        }

        if (hex.Length != 32)
        {
            return false;
        }

        Span<byte> bytes = stackalloc byte[16];
        if (Convert.FromHexString(hex, bytes, out _, out int written) != System.Buffers.OperationStatus.Done || written != 16)
        {
            return false;
        }

        nguid = BinaryPrimitives.ReadUInt128BigEndian(bytes);
        return nguid != UInt128.Zero;
    }

    public static bool TryParseUuid(string? text, out Guid uuid)
    {
        uuid = Guid.Empty;
        return !string.IsNullOrWhiteSpace(text)
            && Guid.TryParse(text.Trim(), out uuid)
            && uuid != Guid.Empty;
    }

    public static string FormatNguid(UInt128 nguid)
    {
        Span<byte> bytes = stackalloc byte[16];
        WriteNguid(nguid, bytes);
        return Convert.ToHexStringLower(bytes);
    }

    public static void WriteNguid(UInt128 nguid, Span<byte> destination) =>
        BinaryPrimitives.WriteUInt128BigEndian(destination, nguid);

    public static void WriteUuid(Guid uuid, Span<byte> destination)
    {
        if (!uuid.TryWriteBytes(destination, bigEndian: true, out _))
        {
            throw new ArgumentException("needs 16 bytes", nameof(destination));
        }
    }

    private static void Hash(string label, string subsystemNqn, uint nsid, Span<byte> hash)
    {
        byte[] nqn = Encoding.UTF8.GetBytes(subsystemNqn);
        byte[] input = new byte[label.Length + 1 + nqn.Length + 1 + 4];
        Encoding.ASCII.GetBytes(label, input);
        nqn.CopyTo(input, label.Length + 1);
        BinaryPrimitives.WriteUInt32BigEndian(input.AsSpan(input.Length - 4), nsid);
        SHA256.HashData(input, hash);
    }
}
