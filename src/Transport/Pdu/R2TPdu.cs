namespace NvmeMptls.Transport.Pdu;

/// <summary>
/// R2T (type 0x09, controller → host), HLEN 24, PDO 0, PLEN 24/28: asks the host for R2TL bytes of a
/// command's data from offset R2TO, to be sent in H2CData PDUs carrying TTAG. Layout in <see cref="DataPduLayout"/>; reference §1.7.
/// </summary>
public readonly record struct R2TPdu(ushort CommandId, ushort TransferTag, uint Offset, uint Length)
{
    public const byte HeaderLength = DataPduLayout.HeaderLength;
    public const int CommandIdFieldOffset = DataPduLayout.CccidOffset;
    public const int OffsetFieldOffset = DataPduLayout.DataOffsetOffset;
    public const int LengthFieldOffset = DataPduLayout.DataLengthOffset;
    public const int TransferTagFieldOffset = DataPduLayout.TtagOffset;

    public static R2TPdu Read(ReadOnlySpan<byte> header)
    {
        var (cid, ttag, offset, length) = DataPduLayout.Read(header);
        return new R2TPdu(cid, ttag, offset, length);
    }

    public void WriteHeader(Span<byte> header, PduFlags flags, uint plen) =>
        DataPduLayout.Write(header, new PduCommonHeader(PduType.R2T, flags, HeaderLength, 0, plen), CommandId, TransferTag, Offset, Length);
}
