using System.Buffers.Binary;

namespace NvmeMptls.Transport.Nvme;

/// <summary>
/// A 64-byte submission queue entry. Reference §2.1 (and §1.10 for the SGL in DPTR).
/// <code>
/// 0       OPC     opcode (Fabrics: 0x7F)
/// 1       FLAGS   FUSE bits 1:0, PSDT bits 7:6 (01b = SGL)
/// 2–3     CID
/// 4–7     NSID    (Fabrics: byte 4 is FCTYPE)
/// 8–15    CDW2–3
/// 16–23   MPTR
/// 24–39   DPTR    one SGL descriptor: address u64, length u32, 3 reserved, identifier
/// 40–63   CDW10–CDW15
/// </code>
/// </summary>
public struct NvmeCommand
{
    public const int Size = 64;
    public const int OpcodeOffset = 0;
    public const int FlagsOffset = 1;
    public const int CidOffset = 2;
    public const int NsidOffset = 4;
    public const int FcTypeOffset = 4;
    public const int Cdw2Offset = 8;
    public const int Cdw3Offset = 12;
    public const int MptrOffset = 16;
    public const int SglAddressOffset = 24;
    public const int SglLengthOffset = 32;
    public const int SglIdentifierOffset = 39;
    public const int Cdw10Offset = 40;

    /// <summary>PSDT = 01b: the data pointer is an SGL (the Linux host sets it on every command).</summary>
    public const byte PsdtSgl = 0x40;

    public byte Opcode;
    public byte Flags;
    public ushort CommandId;
    public uint Nsid;
    public uint Cdw2;
    public uint Cdw3;
    public ulong Mptr;
    public ulong SglAddress;
    public uint SglLength;
    public byte SglIdentifier;
    public uint Cdw10;
    public uint Cdw11;
    public uint Cdw12;
    public uint Cdw13;
    public uint Cdw14;
    public uint Cdw15;

    /// <summary>FCTYPE of a Fabrics command (byte 4, the low byte of the NSID field).</summary>
    public readonly byte FabricsType => (byte)Nsid;

    public readonly SglKind Sgl => SglDescriptor.Classify(SglIdentifier);

    public static NvmeCommand Read(ReadOnlySpan<byte> sqe) => new()
    {
        Opcode = sqe[OpcodeOffset],
        Flags = sqe[FlagsOffset],
        CommandId = BinaryPrimitives.ReadUInt16LittleEndian(sqe[CidOffset..]),
        Nsid = BinaryPrimitives.ReadUInt32LittleEndian(sqe[NsidOffset..]),
        Cdw2 = BinaryPrimitives.ReadUInt32LittleEndian(sqe[Cdw2Offset..]),
        Cdw3 = BinaryPrimitives.ReadUInt32LittleEndian(sqe[Cdw3Offset..]),
        Mptr = BinaryPrimitives.ReadUInt64LittleEndian(sqe[MptrOffset..]),
        SglAddress = BinaryPrimitives.ReadUInt64LittleEndian(sqe[SglAddressOffset..]),
        SglLength = BinaryPrimitives.ReadUInt32LittleEndian(sqe[SglLengthOffset..]),
        SglIdentifier = sqe[SglIdentifierOffset],
        Cdw10 = BinaryPrimitives.ReadUInt32LittleEndian(sqe[Cdw10Offset..]),
        Cdw11 = BinaryPrimitives.ReadUInt32LittleEndian(sqe[(Cdw10Offset + 4)..]),
        Cdw12 = BinaryPrimitives.ReadUInt32LittleEndian(sqe[(Cdw10Offset + 8)..]),
        Cdw13 = BinaryPrimitives.ReadUInt32LittleEndian(sqe[(Cdw10Offset + 12)..]),
        Cdw14 = BinaryPrimitives.ReadUInt32LittleEndian(sqe[(Cdw10Offset + 16)..]),
        Cdw15 = BinaryPrimitives.ReadUInt32LittleEndian(sqe[(Cdw10Offset + 20)..]),
    };

    public readonly void Write(Span<byte> sqe)
    {
        sqe[OpcodeOffset] = Opcode;
        sqe[FlagsOffset] = Flags;
        BinaryPrimitives.WriteUInt16LittleEndian(sqe[CidOffset..], CommandId);
        BinaryPrimitives.WriteUInt32LittleEndian(sqe[NsidOffset..], Nsid);
        BinaryPrimitives.WriteUInt32LittleEndian(sqe[Cdw2Offset..], Cdw2);
        BinaryPrimitives.WriteUInt32LittleEndian(sqe[Cdw3Offset..], Cdw3);
        BinaryPrimitives.WriteUInt64LittleEndian(sqe[MptrOffset..], Mptr);
        BinaryPrimitives.WriteUInt64LittleEndian(sqe[SglAddressOffset..], SglAddress);
        BinaryPrimitives.WriteUInt32LittleEndian(sqe[SglLengthOffset..], SglLength);
        sqe[36] = 0;
        sqe[37] = 0;
        sqe[38] = 0;
        sqe[SglIdentifierOffset] = SglIdentifier;
        BinaryPrimitives.WriteUInt32LittleEndian(sqe[Cdw10Offset..], Cdw10);
        BinaryPrimitives.WriteUInt32LittleEndian(sqe[(Cdw10Offset + 4)..], Cdw11);
        BinaryPrimitives.WriteUInt32LittleEndian(sqe[(Cdw10Offset + 8)..], Cdw12);
        BinaryPrimitives.WriteUInt32LittleEndian(sqe[(Cdw10Offset + 12)..], Cdw13);
        BinaryPrimitives.WriteUInt32LittleEndian(sqe[(Cdw10Offset + 16)..], Cdw14);
        BinaryPrimitives.WriteUInt32LittleEndian(sqe[(Cdw10Offset + 20)..], Cdw15);
    }

    /// <summary>Data direction from opcode bits 1:0 (01b host→controller, 10b controller→host). Reference §3.1.</summary>
    public readonly DataDirection Direction => Opcode == FabricsOpcodes.Fabrics
        ? ((FabricsType & 1) != 0 ? DataDirection.HostToController : (FabricsType == FabricsOpcodes.AuthenticationReceive ? DataDirection.ControllerToHost : DataDirection.None))
        : (Opcode & 3) switch
        {
            1 => DataDirection.HostToController,
            2 => DataDirection.ControllerToHost,
            3 => DataDirection.Bidirectional,
            _ => DataDirection.None,
        };
}

public enum DataDirection
{
    None,
    HostToController,
    ControllerToHost,
    Bidirectional,
}
