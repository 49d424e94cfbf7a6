using System.Buffers.Binary;

namespace NvmeMptls.Transport.Pdu;

/// <summary>
/// ICReq (type 0x00, host → controller), HLEN = PLEN = 128, PDO 0, FLAGS 0. Reference §1.4.
/// <code>
/// 0–7     CH
/// 8–9     PFV      PDU format version, 0
/// 10      HPDA     host PDU data alignment (dwords, 0's based)
/// 11      DGST     bit0 HDGST_ENABLE, bit1 DDGST_ENABLE
/// 12–15   MAXR2T   max outstanding R2Ts per command (0's based)
/// 16–127  reserved
/// </code>
/// </summary>
public readonly record struct IcReqPdu(ushort Pfv, byte Hpda, bool HeaderDigest, bool DataDigest, uint MaxR2T)
{
    public const byte HeaderLength = 128;
    public const int PfvOffset = 8;
    public const int HpdaOffset = 10;
    public const int DgstOffset = 11;
    public const int MaxR2TOffset = 12;

    public static IcReqPdu Read(ReadOnlySpan<byte> pdu) => new(
        BinaryPrimitives.ReadUInt16LittleEndian(pdu[PfvOffset..]),
        pdu[HpdaOffset],
        (pdu[DgstOffset] & 0x01) != 0,
        (pdu[DgstOffset] & 0x02) != 0,
        BinaryPrimitives.ReadUInt32LittleEndian(pdu[MaxR2TOffset..]));

    public void Write(Span<byte> pdu)
    {
        pdu[..HeaderLength].Clear();
        new PduCommonHeader(PduType.ICReq, PduFlags.None, HeaderLength, 0, HeaderLength).Write(pdu);
        BinaryPrimitives.WriteUInt16LittleEndian(pdu[PfvOffset..], Pfv);
        pdu[HpdaOffset] = Hpda;
        pdu[DgstOffset] = (byte)((HeaderDigest ? 1 : 0) | (DataDigest ? 2 : 0));
        BinaryPrimitives.WriteUInt32LittleEndian(pdu[MaxR2TOffset..], MaxR2T);
    }
}
