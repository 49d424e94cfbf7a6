namespace NvmeMptls.Transport.Pdu;

/// <summary>H2CTermReq (type 0x02, host → controller): the host ends the connection. Layout in <see cref="TermReqLayout"/>.</summary>
public readonly record struct H2CTermReqPdu(TermReqFes Fes, uint Fei)
{
    public const byte HeaderLength = TermReqLayout.HeaderLength;

    public static H2CTermReqPdu Read(ReadOnlySpan<byte> pdu)
    {
        var (fes, fei) = TermReqLayout.Read(pdu);
        return new H2CTermReqPdu(fes, fei);
    }

    /// <summary>Writes the PDU with up to 128 bytes of the offending header; returns its length.</summary>
    public int Write(Span<byte> pdu, ReadOnlySpan<byte> offendingHeader)
    {
        TermReqLayout.Write(pdu, PduType.H2CTermReq, Fes, Fei, offendingHeader);
        return HeaderLength + Math.Min(offendingHeader.Length, TermReqLayout.MaxDataLength);
    }
}
