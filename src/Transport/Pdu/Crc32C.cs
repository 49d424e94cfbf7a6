using System.Buffers;
using System.Buffers.Binary;
using System.Numerics;

namespace NvmeMptls.Transport.Pdu;

/// <summary>
/// CRC-32C (Castagnoli) for NVMe/TCP header and data digests: reflected polynomial 0x82F63B78, initial value
/// and final XOR 0xFFFFFFFF, stored little-endian. Check value crc32c("123456789") = 0xE3069283. Reference §1.8.
/// <see cref="BitOperations.Crc32C(uint, ulong)"/> runs on the CPU's CRC32 instruction (SSE4.2 / ARMv8) and falls
/// back to software elsewhere; <see cref="UpdatePortable"/> is the table-driven reference used to cross-check it.
/// </summary>
public static class Crc32C
{
    public const uint Seed = 0xFFFFFFFF;
    private const uint Polynomial = 0x82F63B78;
    private static readonly uint[] Table = BuildTable();

    /// <summary>The digest of one contiguous buffer.</summary>
    public static uint Compute(ReadOnlySpan<byte> data) => ~Update(Seed, data);

    /// <summary>The digest of a (possibly segmented) sequence.</summary>
    public static uint Compute(in ReadOnlySequence<byte> data)
    {
        var crc = Seed;
        foreach (var segment in data)
        {
            crc = Update(crc, segment.Span);
        }

        return ~crc;
    }

    /// <summary>Continues a running CRC (start with <see cref="Seed"/>, finish with bitwise NOT).</summary>
    public static uint Update(uint crc, ReadOnlySpan<byte> data)
    {
        while (data.Length >= 8)
        {
            crc = BitOperations.Crc32C(crc, BinaryPrimitives.ReadUInt64LittleEndian(data));
            data = data[8..];
        }

        if (data.Length >= 4)
        {
            crc = BitOperations.Crc32C(crc, BinaryPrimitives.ReadUInt32LittleEndian(data));
            data = data[4..];
        }

        foreach (var b in data)
        {
            crc = BitOperations.Crc32C(crc, b);
        }

        return crc;
    }

    /// <summary>Byte-at-a-time table implementation; same results as <see cref="Update"/> on every machine.</summary>
    public static uint UpdatePortable(uint crc, ReadOnlySpan<byte> data)
    {
        foreach (var b in data)
        {
            crc = Table[(crc ^ b) & 0xFF] ^ (crc >> 8);
        }

        return crc;
    }

    private static uint[] BuildTable()
    {
        var table = new uint[256];
        for (uint i = 0; i < 256; i++)
        {
            var c = i;
            for (var k = 0; k < 8; k++)
            {
                c = (c & 1) != 0 ? (c >> 1) ^ Polynomial : c >> 1;
            }

            table[i] = c;
        }

        return table;
    }
}
