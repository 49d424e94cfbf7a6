using System.Buffers.Binary;
using System.Numerics;
using System.Runtime.InteropServices;

namespace NvmeMptls.Initiator.LoadGen;

/// <summary>Why a block failed verification.</summary>
public enum VerifyFailure
{
    None,
    BadMagic,
    WrongOffset,
    BadChecksum,
    StaleGeneration,
}

/// <summary>
/// Block headers for <c>verify=crc32c</c>. Every written block starts with a 32-byte header and is filled with a
/// pseudo-random pattern seeded by offset and generation:
/// <code>
///  0 u32 magic "NVMV"   4 u32 CRC32C of bytes 8..end   8 u64 byte offset
/// 16 u32 generation     20 u32 job id                  24 u64 reserved (0)
/// </code>
/// All little-endian. A read checks magic, offset, checksum and, when this run wrote the block, that the
/// generation is the last one whose write completed.
/// </summary>
public static class BenchVerifier
{
    public const int HeaderSize = 32;
    public const uint Magic = 0x564D564E;

    public static void Fill(Span<byte> block, ulong offset, uint generation, uint jobId)
    {
        var seed = (offset * 0x9E3779B97F4A7C15UL) ^ ((ulong)generation << 32) ^ jobId ^ 0xD1B54A32D192ED03UL;
        var words = MemoryMarshal.Cast<byte, ulong>(block[HeaderSize..]);
        for (var i = 0; i < words.Length; i++)
        {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            words[i] = seed;
        }

        BinaryPrimitives.WriteUInt32LittleEndian(block, Magic);
        BinaryPrimitives.WriteUInt64LittleEndian(block[8..], offset);
        BinaryPrimitives.WriteUInt32LittleEndian(block[16..], generation);
        BinaryPrimitives.WriteUInt32LittleEndian(block[20..], jobId);
        BinaryPrimitives.WriteUInt64LittleEndian(block[24..], 0);
        BinaryPrimitives.WriteUInt32LittleEndian(block[4..], Crc32C(block[8..]));
    }

    /// <summary>
    /// Checks a block read at <paramref name="offset"/>. <paramref name="expectedGeneration"/> 0 means this run
    /// never wrote it: a block without the magic is then "unwritten" (returned via <paramref name="unwritten"/>), not an error.
    /// </summary>
    public static VerifyFailure Check(ReadOnlySpan<byte> block, ulong offset, uint expectedGeneration, out bool unwritten)
    {
        unwritten = false;
        if (BinaryPrimitives.ReadUInt32LittleEndian(block) != Magic)
        {
            unwritten = expectedGeneration == 0;
            return unwritten ? VerifyFailure.None : VerifyFailure.BadMagic;
        }

        if (BinaryPrimitives.ReadUInt64LittleEndian(block[8..]) != offset)
        {
            return VerifyFailure.WrongOffset;
        }

        if (BinaryPrimitives.ReadUInt32LittleEndian(block[4..]) != Crc32C(block[8..]))
        {
            return VerifyFailure.BadChecksum;
        }

        if (expectedGeneration != 0 && BinaryPrimitives.ReadUInt32LittleEndian(block[16..]) != expectedGeneration)
        {
            return VerifyFailure.StaleGeneration;
        }

        return VerifyFailure.None;
    }

    /// <summary>CRC32C (Castagnoli), hardware-accelerated where the CPU has it.</summary>
    public static uint Crc32C(ReadOnlySpan<byte> data)
    {
        var crc = 0xFFFFFFFFu;
        var words = MemoryMarshal.Cast<byte, ulong>(data);
        foreach (var word in words)
        {
            crc = BitOperations.Crc32C(crc, word);
        }

        for (var i = words.Length * 8; i < data.Length; i++)
        {
            crc = BitOperations.Crc32C(crc, data[i]);
        }

        return ~crc;
    }
}

/// <summary>
/// Per-block state shared by the clones of one verifying job: the generation of the last completed write, and a
/// busy bit so no two I/Os (of any direction) touch one block at once — otherwise a read racing a write, or two
/// writes completing out of order, would look like corruption.
/// </summary>
internal sealed class BlockTracker
{
    private readonly uint[] _generations;
    private readonly int[] _busy;
    private int _nextGeneration;

    public BlockTracker(long blocks)
    {
        if (blocks > 64L * 1024 * 1024)
        {
            throw new BenchJobException($"verify covers {blocks} blocks; at most 64Mi blocks can be tracked (use a smaller size or larger bs)");
        }

        _generations = new uint[blocks];
        _busy = new int[blocks];
    }

    public long Blocks => _generations.Length;

    public bool TryAcquire(long block) => Interlocked.CompareExchange(ref _busy[block], 1, 0) == 0;

    public void Release(long block) => Volatile.Write(ref _busy[block], 0);

    public uint NextGeneration()
    {
        var generation = (uint)Interlocked.Increment(ref _nextGeneration);
        return generation == 0 ? (uint)Interlocked.Increment(ref _nextGeneration) : generation;
    }

    /// <summary>Only valid while the caller holds the block.</summary>
    public uint Generation(long block) => Volatile.Read(ref _generations[block]);

    public void Completed(long block, uint generation) => Volatile.Write(ref _generations[block], generation);
}
