using System.Buffers.Binary;

namespace NvmeMptls.Transport.Nvme;

/// <summary>
/// The NVM command set's command fields (reference §3.9), written by the host and read by the target.
/// <code>
/// Read 02h / Write 01h / Compare 05h   CDW10–11 SLBA; CDW12 bits 15:0 NLB (0's based), bit 30 FUA, bit 31 LR
/// Write Zeroes 08h                      CDW10–11 SLBA; CDW12 bits 15:0 NLB (0's based), bit 25 DEAC, bit 30 FUA
/// Dataset Management 09h                CDW10 bits 7:0 NR (0's based); CDW11 bit 2 AD; data = (NR+1) ranges
/// </code>
/// </summary>
public static class IoCommand
{
    /// <summary>Largest block count one command carries (NLB is a 16-bit 0's based field).</summary>
    public const int MaxBlocks = 65536;

    /// <summary>Largest number of Dataset Management ranges (NR is an 8-bit 0's based field).</summary>
    public const int MaxDsmRanges = 256;

    private const uint NlbMask = 0xFFFF;
    private const uint FuaBit = 1u << 30;
    private const uint DeallocateBit = 1u << 25;
    private const uint AttributeDeallocateBit = 1u << 2;

    /// <summary>Read, Write or Compare of <paramref name="blocks"/> (1..65536) blocks at <paramref name="lba"/>.</summary>
    public static NvmeCommand ReadWrite(byte opcode, uint nsid, ulong lba, uint blocks, bool forceUnitAccess) => new()
    {
        Opcode = opcode,
        Nsid = nsid,
        Cdw10 = (uint)lba,
        Cdw11 = (uint)(lba >> 32),
        Cdw12 = (blocks - 1) | (forceUnitAccess ? FuaBit : 0),
    };

    /// <summary>Write Zeroes of <paramref name="blocks"/> (1..65536) blocks, optionally deallocating them (DEAC).</summary>
    public static NvmeCommand WriteZeroes(uint nsid, ulong lba, uint blocks, bool deallocate) => new()
    {
        Opcode = IoOpcodes.WriteZeroes,
        Nsid = nsid,
        Cdw10 = (uint)lba,
        Cdw11 = (uint)(lba >> 32),
        Cdw12 = (blocks - 1) | (deallocate ? DeallocateBit : 0),
    };

    /// <summary>Dataset Management with <paramref name="ranges"/> (1..256) ranges and AD (deallocate) set.</summary>
    public static NvmeCommand Deallocate(uint nsid, int ranges = 1) => new()
    {
        Opcode = IoOpcodes.DatasetManagement,
        Nsid = nsid,
        Cdw10 = (uint)(ranges - 1),
        Cdw11 = AttributeDeallocateBit,
    };

    public static ulong StartLbaOf(in NvmeCommand command) => command.Cdw10 | ((ulong)command.Cdw11 << 32);

    /// <summary>Blocks the command covers, 1's based (NLB + 1).</summary>
    public static uint BlockCountOf(in NvmeCommand command) => (command.Cdw12 & NlbMask) + 1;

    public static bool ForceUnitAccessOf(in NvmeCommand command) => (command.Cdw12 & FuaBit) != 0;

    /// <summary>Write Zeroes DEAC: the zeroed blocks may be deallocated.</summary>
    public static bool DeallocateOf(in NvmeCommand command) => (command.Cdw12 & DeallocateBit) != 0;

    /// <summary>Dataset Management range count, 1's based (NR + 1).</summary>
    public static int DsmRangeCountOf(in NvmeCommand command) => (int)(command.Cdw10 & 0xFF) + 1;

    /// <summary>Dataset Management AD: deallocate the ranges.</summary>
    public static bool DsmDeallocateOf(in NvmeCommand command) => (command.Cdw11 & AttributeDeallocateBit) != 0;
}

/// <summary>
/// One 16-byte Dataset Management range (reference §3.9): context attributes u32 @0, length in blocks u32 @4
/// (1's based: 0 means an empty range), starting LBA u64 @8.
/// </summary>
public readonly record struct DsmRange(uint ContextAttributes, uint Blocks, ulong StartLba)
{
    public const int Size = 16;
    public const int ContextAttributesOffset = 0;
    public const int BlocksOffset = 4;
    public const int StartLbaOffset = 8;

    public static DsmRange Read(ReadOnlySpan<byte> range) => new(
        BinaryPrimitives.ReadUInt32LittleEndian(range[ContextAttributesOffset..]),
        BinaryPrimitives.ReadUInt32LittleEndian(range[BlocksOffset..]),
        BinaryPrimitives.ReadUInt64LittleEndian(range[StartLbaOffset..]));

    public void Write(Span<byte> range)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(range[ContextAttributesOffset..], ContextAttributes);
        BinaryPrimitives.WriteUInt32LittleEndian(range[BlocksOffset..], Blocks);
        BinaryPrimitives.WriteUInt64LittleEndian(range[StartLbaOffset..], StartLba);
    }
}
