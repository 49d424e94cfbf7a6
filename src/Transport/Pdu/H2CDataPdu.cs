namespace NvmeMptls.Transport.Pdu;

/// <summary>
/// H2CData (type 0x06, host → controller), HLEN 24: data for an R2T. FLAGS: HDGSTF/DDGSTF, LAST_PDU on the
/// last H2CData of this R2T. Layout in <see cref="DataPduLayout"/>; reference §1.7.
/// </summary>
public readonly record struct H2CDataPdu(ushort CommandId, ushort TransferTag, uint DataOffset, uint DataLength)
{
    public const byte HeaderLength = DataPduLayout.HeaderLength;
    public const int CommandIdFieldOffset = DataPduLayout.CccidOffset;
    public const int DataOffsetFieldOffset = DataPduLayout.DataOffsetOffset;
    public const int DataLengthFieldOffset = DataPduLayout.DataLengthOffset;
    public const int TransferTagFieldOffset = DataPduLayout.TtagOffset;

    public static H2CDataPdu Read(ReadOnlySpan<byte> header)
    {
        var (cid, ttag, offset, length) = DataPduLayout.Read(header);
        return new H2CDataPdu(cid, ttag, offset, length);
    }

    public void WriteHeader(Span<byte> header, PduFlags flags, byte pdo, uint plen) =>
        DataPduLayout.Write(header, new PduCommonHeader(PduType.H2CData, flags, HeaderLength, pdo, plen), CommandId, TransferTag, DataOffset, DataLength);
}
