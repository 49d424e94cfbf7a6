using System.Buffers.Binary;

namespace NvmeMptls.Transport.Pdu;

/// <summary>
/// ICResp (type 0x01, controller → host), HLEN = PLEN = 128, PDO 0, FLAGS 0. Reference §1.4.
/// <code>
/// 0–7     CH
/// 8–9     PFV         0
/// 10      CPDA        controller PDU data alignment (dwords, 0's based)
/// 11      DGST        digests the controller enabled (bit0 header, bit1 data)
/// 12–15   MAXH2CDATA  max data bytes in one H2CData PDU (≥ 4096, multiple of 4)
/// 16–127  reserved
/// </code>
/// </summary>
public readonly record struct IcRespPdu(ushort Pfv, byte Cpda, bool HeaderDigest, bool DataDigest, uint MaxH2CData)
{
    public const byte HeaderLength = 128;
    public const int PfvOffset = 8;
    public const int CpdaOffset = 10;
    public const int DgstOffset = 11;
    public const int MaxH2CDataOffset = 12;

    /// <summary>The smallest MAXH2CDATA a Linux host accepts (NVME_TCP_MIN_MAXH2CDATA).</summary>
    public const uint MinMaxH2CData = 4096;

    public static IcRespPdu Read(ReadOnlySpan<byte> pdu) => new(
        BinaryPrimitives.ReadUInt16LittleEndian(pdu[PfvOffset..]),
        pdu[CpdaOffset],
        (pdu[DgstOffset] & 0x01) != 0,
        (pdu[DgstOffset] & 0x02) != 0,
        BinaryPrimitives.ReadUInt32LittleEndian(pdu[MaxH2CDataOffset..]));

    public void Write(Span<byte> pdu)
    {
        pdu[..HeaderLength].Clear();
        new PduCommonHeader(PduType.ICResp, PduFlags.None, HeaderLength, 0, HeaderLength).Write(pdu);
        BinaryPrimitives.WriteUInt16LittleEndian(pdu[PfvOffset..], Pfv);
        pdu[CpdaOffset] = Cpda;
        pdu[DgstOffset] = (byte)((HeaderDigest ? 1 : 0) | (DataDigest ? 2 : 0));
        BinaryPrimitives.WriteUInt32LittleEndian(pdu[MaxH2CDataOffset..], MaxH2CData);
    }
}
