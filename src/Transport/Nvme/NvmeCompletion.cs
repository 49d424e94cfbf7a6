using System.Buffers.Binary;

namespace NvmeMptls.Transport.Nvme;

/// <summary>
/// A 16-byte completion queue entry. Reference §2.1.
/// <code>
/// 0–3     DW0     command specific (Connect result, feature value…)
/// 4–7     DW1     command specific (Property Get: high dword)
/// 8–9     SQHD    0xFFFF when SQ flow control is disabled
/// 10–11   SQID
/// 12–13   CID
/// 14–15   STATUS  bit0 phase (reserved on fabrics), 8:1 SC, 11:9 SCT, 13:12 CRD, 14 M, 15 DNR
/// </code>
/// </summary>
public struct NvmeCompletion
{
    public const int Size = 16;
    public const int Dw0Offset = 0;
    public const int Dw1Offset = 4;
    public const int SqHeadOffset = 8;
    public const int SqIdOffset = 10;
    public const int CidOffset = 12;
    public const int StatusOffset = 14;

    public uint Dw0;
    public uint Dw1;
    public ushort SqHead;
    public ushort SqId;
    public ushort CommandId;
    public NvmeStatus Status;

    public readonly ulong Result64 => Dw0 | ((ulong)Dw1 << 32);

    public static NvmeCompletion Read(ReadOnlySpan<byte> cqe) => new()
    {
        Dw0 = BinaryPrimitives.ReadUInt32LittleEndian(cqe[Dw0Offset..]),
        Dw1 = BinaryPrimitives.ReadUInt32LittleEndian(cqe[Dw1Offset..]),
        SqHead = BinaryPrimitives.ReadUInt16LittleEndian(cqe[SqHeadOffset..]),
        SqId = BinaryPrimitives.ReadUInt16LittleEndian(cqe[SqIdOffset..]),
        CommandId = BinaryPrimitives.ReadUInt16LittleEndian(cqe[CidOffset..]),
        Status = NvmeStatus.FromCqeField(BinaryPrimitives.ReadUInt16LittleEndian(cqe[StatusOffset..])),
    };

    public readonly void Write(Span<byte> cqe)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(cqe[Dw0Offset..], Dw0);
        BinaryPrimitives.WriteUInt32LittleEndian(cqe[Dw1Offset..], Dw1);
        BinaryPrimitives.WriteUInt16LittleEndian(cqe[SqHeadOffset..], SqHead);
        BinaryPrimitives.WriteUInt16LittleEndian(cqe[SqIdOffset..], SqId);
        BinaryPrimitives.WriteUInt16LittleEndian(cqe[CidOffset..], CommandId);
        BinaryPrimitives.WriteUInt16LittleEndian(cqe[StatusOffset..], Status.ToCqeField());
    }
}
