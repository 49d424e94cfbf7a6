namespace NvmeMptls.Transport.Pdu;

/// <summary>C2HTermReq (type 0x03, controller → host): the controller ends the connection. Layout in <see cref="TermReqLayout"/>.</summary>
public readonly record struct C2HTermReqPdu(TermReqFes Fes, uint Fei)
{
    public const byte HeaderLength = TermReqLayout.HeaderLength;

    public static C2HTermReqPdu Read(ReadOnlySpan<byte> pdu)
    {
        var (fes, fei) = TermReqLayout.Read(pdu);
        return new C2HTermReqPdu(fes, fei);
    }

    /// <summary>Writes the PDU with up to 128 bytes of the offending header; returns its length.</summary>
    public int Write(Span<byte> pdu, ReadOnlySpan<byte> offendingHeader)
    {
        TermReqLayout.Write(pdu, PduType.C2HTermReq, Fes, Fei, offendingHeader);
        return HeaderLength + Math.Min(offendingHeader.Length, TermReqLayout.MaxDataLength);
    }
}
