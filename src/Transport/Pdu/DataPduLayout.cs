using System.Buffers.Binary;

namespace NvmeMptls.Transport.Pdu;

/// <summary>
/// The 24-byte header H2CData, C2HData and R2T share. Reference §1.7.
/// <code>
/// 0–7     CH
/// 8–9     CCCID   command id of the command the data belongs to
/// 10–11   TTAG    transfer tag (H2CData: copied from the R2T; C2HData: reserved)
/// 12–15   DATAO   offset of this PDU's data in the command's data (R2T: R2TO)
/// 16–19   DATAL   bytes of data in this PDU (R2T: R2TL)
/// 20–23   reserved
/// </code>
/// </summary>
public static class DataPduLayout
{
    public const byte HeaderLength = 24;
    public const int CccidOffset = 8;
    public const int TtagOffset = 10;
    public const int DataOffsetOffset = 12;
    public const int DataLengthOffset = 16;
    public const int ReservedOffset = 20;

    public static (ushort Cccid, ushort Ttag, uint Offset, uint Length) Read(ReadOnlySpan<byte> header) => (
        BinaryPrimitives.ReadUInt16LittleEndian(header[CccidOffset..]),
        BinaryPrimitives.ReadUInt16LittleEndian(header[TtagOffset..]),
        BinaryPrimitives.ReadUInt32LittleEndian(header[DataOffsetOffset..]),
        BinaryPrimitives.ReadUInt32LittleEndian(header[DataLengthOffset..]));

    public static void Write(Span<byte> header, in PduCommonHeader ch, ushort cccid, ushort ttag, uint offset, uint length)
    {
        ch.Write(header);
        BinaryPrimitives.WriteUInt16LittleEndian(header[CccidOffset..], cccid);
        BinaryPrimitives.WriteUInt16LittleEndian(header[TtagOffset..], ttag);
        BinaryPrimitives.WriteUInt32LittleEndian(header[DataOffsetOffset..], offset);
        BinaryPrimitives.WriteUInt32LittleEndian(header[DataLengthOffset..], length);
        BinaryPrimitives.WriteUInt32LittleEndian(header[ReservedOffset..], 0);
    }
}
