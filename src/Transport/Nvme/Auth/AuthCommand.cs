namespace NvmeMptls.Transport.Nvme.Auth;

/// <summary>
/// The SQE fields of the Fabrics Authentication Send (FCTYPE 05h, host to controller) and Authentication Receive
/// (FCTYPE 06h, controller to host) commands. Reference §2.8.
/// <code>
/// 40      reserved
/// 41      SPSP0   security protocol specific, 01h for DH-HMAC-CHAP
/// 42      SPSP1   security protocol specific, 01h for DH-HMAC-CHAP
/// 43      SECP    security protocol, E9h = NVMe in-band authentication
/// 44–47   TL (Send: bytes the host transfers) / AL (Receive: bytes the host accepts)
/// </code>
/// The message itself travels in the data (in-capsule or via R2T/C2HData like any other data).
/// </summary>
public readonly record struct AuthCommand(bool IsSend, uint Length, byte SecurityProtocol = AuthCommand.DhChapProtocol,
    byte Spsp0 = AuthCommand.DhChapSpsp, byte Spsp1 = AuthCommand.DhChapSpsp)
{
    public const byte DhChapProtocol = 0xE9;
    public const byte DhChapSpsp = 0x01;

    public const int Spsp0Offset = NvmeCommand.Cdw10Offset + 1;
    public const int Spsp1Offset = NvmeCommand.Cdw10Offset + 2;
    public const int SecpOffset = NvmeCommand.Cdw10Offset + 3;
    public const int LengthOffset = NvmeCommand.Cdw10Offset + 4;

    public static bool IsAuthCommand(in NvmeCommand command) =>
        command.Opcode == FabricsOpcodes.Fabrics
        && command.FabricsType is FabricsOpcodes.AuthenticationSend or FabricsOpcodes.AuthenticationReceive;

    /// <summary>The SQE; the data pointer is set by whoever moves the data.</summary>
    public NvmeCommand ToCommand() => new()
    {
        Opcode = FabricsOpcodes.Fabrics,
        Nsid = IsSend ? FabricsOpcodes.AuthenticationSend : FabricsOpcodes.AuthenticationReceive,
        Cdw10 = ((uint)Spsp0 << 8) | ((uint)Spsp1 << 16) | ((uint)SecurityProtocol << 24),
        Cdw11 = Length,
    };

    public static AuthCommand Read(in NvmeCommand command) => new(
        IsSend: command.FabricsType == FabricsOpcodes.AuthenticationSend,
        Length: command.Cdw11,
        SecurityProtocol: (byte)(command.Cdw10 >> 24),
        Spsp0: (byte)(command.Cdw10 >> 8),
        Spsp1: (byte)(command.Cdw10 >> 16));

    /// <summary>
    /// The SQE offset of the first field a DH-HMAC-CHAP command must not have (SECP, SPSP0, SPSP1, or a zero TL/AL),
    /// or -1 when the command is well formed (kernel nvmet_execute_auth_send/receive check the same fields).
    /// </summary>
    public int InvalidFieldOffset() =>
        SecurityProtocol != DhChapProtocol ? SecpOffset
        : Spsp0 != DhChapSpsp ? Spsp0Offset
        : Spsp1 != DhChapSpsp ? Spsp1Offset
        : Length == 0 ? LengthOffset
        : -1;
}
