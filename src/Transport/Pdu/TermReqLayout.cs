using System.Buffers.Binary;

namespace NvmeMptls.Transport.Pdu;

/// <summary>
/// The layout H2CTermReq and C2HTermReq share. Reference §1.5.
/// <code>
/// 0–7     CH       HLEN 24, PDO 0, PLEN = 24 + length of the copied header (≤ 128)
/// 8–9     FES      fatal error status
/// 10–13   FEI      fatal error information (byte offset of the bad field for FES 01h/06h)
/// 14–23   reserved
/// 24…     the header of the PDU that caused the error, at most 128 bytes
/// </code>
/// TermReq PDUs never carry digests, even when digests were negotiated.
/// </summary>
public static class TermReqLayout
{
    public const byte HeaderLength = 24;
    public const int FesOffset = 8;
    public const int FeiOffset = 10;
    public const int MaxDataLength = 128;
    public const uint MaxPduLength = HeaderLength + MaxDataLength;

    public static void Write(Span<byte> pdu, PduType type, TermReqFes fes, uint fei, ReadOnlySpan<byte> offendingHeader)
    {
        var data = offendingHeader.Length > MaxDataLength ? offendingHeader[..MaxDataLength] : offendingHeader;
        pdu[..HeaderLength].Clear();
        new PduCommonHeader(type, PduFlags.None, HeaderLength, 0, (uint)(HeaderLength + data.Length)).Write(pdu);
        BinaryPrimitives.WriteUInt16LittleEndian(pdu[FesOffset..], (ushort)fes);
        BinaryPrimitives.WriteUInt32LittleEndian(pdu[FeiOffset..], fei);
        data.CopyTo(pdu[HeaderLength..]);
    }

    public static (TermReqFes Fes, uint Fei) Read(ReadOnlySpan<byte> pdu) => (
        (TermReqFes)BinaryPrimitives.ReadUInt16LittleEndian(pdu[FesOffset..]),
        BinaryPrimitives.ReadUInt32LittleEndian(pdu[FeiOffset..]));
}
