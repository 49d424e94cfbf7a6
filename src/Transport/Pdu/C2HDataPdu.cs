namespace NvmeMptls.Transport.Pdu;

/// <summary>
/// C2HData (type 0x07, controller → host), HLEN 24: read data. FLAGS: HDGSTF/DDGSTF, LAST_PDU on the last
/// C2HData of the command, SUCCESS only together with LAST_PDU. Layout in <see cref="DataPduLayout"/>; reference §1.7.
/// </summary>
public readonly record struct C2HDataPdu(ushort CommandId, uint DataOffset, uint DataLength)
{
    public const byte HeaderLength = DataPduLayout.HeaderLength;
    public const int CommandIdFieldOffset = DataPduLayout.CccidOffset;
    public const int DataOffsetFieldOffset = DataPduLayout.DataOffsetOffset;
    public const int DataLengthFieldOffset = DataPduLayout.DataLengthOffset;

    public static C2HDataPdu Read(ReadOnlySpan<byte> header)
    {
        var (cid, _, offset, length) = DataPduLayout.Read(header);
        return new C2HDataPdu(cid, offset, length);
    }

    public void WriteHeader(Span<byte> header, PduFlags flags, byte pdo, uint plen) =>
        DataPduLayout.Write(header, new PduCommonHeader(PduType.C2HData, flags, HeaderLength, pdo, plen), CommandId, 0, DataOffset, DataLength);
}
