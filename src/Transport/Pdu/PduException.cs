namespace NvmeMptls.Transport.Pdu;

/// <summary>
/// A transport-fatal protocol error: the connection ends with a TermReq carrying <see cref="Fes"/> and, for
/// FES 01h/06h, <see cref="Fei"/> = the byte offset of the bad field in the offending PDU. Reference §1.5.
/// </summary>
public sealed class PduException : Exception
{
    public PduException(TermReqFes fes, uint fei, string message)
        : base(message)
    {
        Fes = fes;
        Fei = fei;
    }

    public TermReqFes Fes { get; }

    public uint Fei { get; }

    public static PduException HeaderField(int offset, string message) => new(TermReqFes.InvalidHeaderField, (uint)offset, message);

    public static PduException Sequence(string message) => new(TermReqFes.PduSequenceError, 0, message);
}

/// <summary>The peer sent a TermReq: the connection is over; no TermReq is sent back. Reference §1.5.</summary>
public sealed class TermReqReceivedException : Exception
{
    public TermReqReceivedException(TermReqFes fes, uint fei)
        : base($"peer terminated the connection: FES 0x{(ushort)fes:x2} ({fes}), FEI {fei}")
    {
        Fes = fes;
        Fei = fei;
    }

    public TermReqFes Fes { get; }

    public uint Fei { get; }
}
