namespace NvmeMptls.Transport.Pdu;

/// <summary>NVMe/TCP PDU types (common header byte 0). Reference §1.3; 0x08 is unused.</summary>
public enum PduType : byte
{
    ICReq = 0x00,
    ICResp = 0x01,
    H2CTermReq = 0x02,
    C2HTermReq = 0x03,
    CapsuleCmd = 0x04,
    CapsuleResp = 0x05,
    H2CData = 0x06,
    C2HData = 0x07,
    R2T = 0x09,
}

/// <summary>Common header FLAGS bits. Reference §1.2.</summary>
[Flags]
public enum PduFlags : byte
{
    None = 0,
    HeaderDigest = 0x01,
    DataDigest = 0x02,
    /// <summary>LAST_PDU: last data PDU of an R2T (H2CData) or of the command (C2HData).</summary>
    Last = 0x04,
    /// <summary>SUCCESS (C2HData only, with LAST_PDU): completed with status 0, no CapsuleResp follows.</summary>
    Success = 0x08,
}

/// <summary>Fatal error status carried in a TermReq. Reference §1.5.</summary>
public enum TermReqFes : ushort
{
    InvalidHeaderField = 0x01,
    PduSequenceError = 0x02,
    HeaderDigestError = 0x03,
    DataTransferOutOfRange = 0x04,
    /// <summary>R2T Limit Exceeded (H2CTermReq) / Data Transfer Limit Exceeded (C2HTermReq).</summary>
    DataTransferLimitExceeded = 0x05,
    UnsupportedParameter = 0x06,
}
