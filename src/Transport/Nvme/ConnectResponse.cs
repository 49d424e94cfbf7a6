namespace NvmeMptls.Transport.Nvme;

/// <summary>
/// DW0 of the Connect completion. Reference §2.3.
/// <code>
/// success:                 bits 15:0 CNTLID, bit 17 ATR (authentication required), bit 18 ASCR (secure channel
///                          concatenation required); bits 17–18 together are AUTHREQ
/// Connect Invalid Params:  bits 15:0 IPO (offset of the bad field), bit 16 IATTR (1: offset into the Connect data,
///                          0: offset into the SQE)
/// </code>
/// </summary>
public readonly record struct ConnectResponse(uint Dw0)
{
    public const uint AuthenticationRequiredBit = 1u << 17;
    public const uint SecureChannelRequiredBit = 1u << 18;
    public const uint AuthReqMask = AuthenticationRequiredBit | SecureChannelRequiredBit;
    public const uint InDataBit = 1u << 16;

    // Invalid-parameter DW0 values for the fields a controller checks.
    public const uint InvalidQueueId = (uint)ConnectCommand.QueueIdOffset;
    public const uint InvalidSqSize = (uint)ConnectCommand.SqSizeOffset;
    public const uint InvalidControllerId = InDataBit | ConnectData.CntlIdOffset;
    public const uint InvalidSubsystemNqn = InDataBit | ConnectData.SubNqnOffset;
    public const uint InvalidHostNqn = InDataBit | ConnectData.HostNqnOffset;

    public ushort ControllerId => (ushort)Dw0;

    /// <summary>AUTHREQ: ATR or ASCR; the host must run in-band authentication before anything else.</summary>
    public bool AuthenticationRequired => (Dw0 & AuthReqMask) != 0;

    /// <summary>For Connect Invalid Parameters: whether <see cref="InvalidParameterOffset"/> points into the Connect data.</summary>
    public bool InvalidParameterInData => (Dw0 & InDataBit) != 0;

    public ushort InvalidParameterOffset => (ushort)Dw0;

    /// <summary>A successful Connect's DW0; ASCR (TP 8018) is only meaningful together with ATR.</summary>
    public static ConnectResponse Success(ushort controllerId, bool authenticationRequired = false, bool secureChannelRequired = false) =>
        new(controllerId | (authenticationRequired ? AuthenticationRequiredBit : 0) | (secureChannelRequired ? SecureChannelRequiredBit : 0));

    /// <summary>ASCR: the controller asks for secure channel concatenation (TP 8018).</summary>
    public bool SecureChannelRequired => (Dw0 & SecureChannelRequiredBit) != 0;

    /// <summary>The name of the field an Invalid Parameters DW0 points at, e.g. "SUBNQN" or "SQE offset 52".</summary>
    public string InvalidParameterName => InvalidParameterInData
        ? InvalidParameterOffset switch
        {
            ConnectData.HostIdOffset => "HOSTID",
            ConnectData.CntlIdOffset => "CNTLID",
            ConnectData.SubNqnOffset => "SUBNQN",
            ConnectData.HostNqnOffset => "HOSTNQN",
            var other => $"data offset {other}",
        }
        : InvalidParameterOffset switch
        {
            ConnectCommand.RecordFormatOffset => "RECFMT",
            ConnectCommand.QueueIdOffset => "QID",
            ConnectCommand.SqSizeOffset => "SQSIZE",
            ConnectCommand.AttributesOffset => "CATTR",
            ConnectCommand.KeepAliveOffset => "KATO",
            var other => $"SQE offset {other}",
        };
}
