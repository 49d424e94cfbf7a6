using System.Buffers.Binary;

namespace NvmeMptls.Transport.Pdu;

/// <summary>
/// The 8-byte common header every PDU starts with. Reference §1.2.
/// <code>
/// 0     PDU-Type
/// 1     FLAGS   (HDGSTF 0x01, DDGSTF 0x02, LAST_PDU 0x04, SUCCESS 0x08)
/// 2     HLEN    CH + PSH length, excluding the header digest
/// 3     PDO     offset of the data from the PDU start (0 when no data)
/// 4–7   PLEN    total length: HLEN + HDGST + PAD + DATA + DDGST
/// </code>
/// </summary>
public readonly record struct PduCommonHeader(PduType Type, PduFlags Flags, byte HeaderLength, byte DataOffset, uint PduLength)
{
    public const int Size = 8;
    public const int TypeOffset = 0;
    public const int FlagsOffset = 1;
    public const int HlenOffset = 2;
    public const int PdoOffset = 3;
    public const int PlenOffset = 4;

    public static PduCommonHeader Read(ReadOnlySpan<byte> source) => new(
        (PduType)source[TypeOffset],
        (PduFlags)source[FlagsOffset],
        source[HlenOffset],
        source[PdoOffset],
        BinaryPrimitives.ReadUInt32LittleEndian(source[PlenOffset..]));

    public void Write(Span<byte> destination)
    {
        destination[TypeOffset] = (byte)Type;
        destination[FlagsOffset] = (byte)Flags;
        destination[HlenOffset] = HeaderLength;
        destination[PdoOffset] = DataOffset;
        BinaryPrimitives.WriteUInt32LittleEndian(destination[PlenOffset..], PduLength);
    }

    /// <summary>The fixed HLEN of each PDU type (reference §1.3), or 0 for an unknown type.</summary>
    public static byte FixedHeaderLength(PduType type) => type switch
    {
        PduType.ICReq or PduType.ICResp => IcReqPdu.HeaderLength,
        PduType.CapsuleCmd => CapsuleCmdPdu.HeaderLength,
        PduType.H2CTermReq or PduType.C2HTermReq or PduType.CapsuleResp or PduType.H2CData or PduType.C2HData or PduType.R2T => 24,
        _ => 0,
    };
}
