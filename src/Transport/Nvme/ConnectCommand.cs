namespace NvmeMptls.Transport.Nvme;

/// <summary>
/// The Connect-specific fields of a Fabrics Connect SQE (opcode 7Fh, FCTYPE 01h). Reference §2.3.
/// <code>
/// 40–41   RECFMT  record format, must be 0
/// 42–43   QID     0 = admin queue
/// 44–45   SQSIZE  0's based
/// 46      CATTR   bit 2: disable SQ flow control; bits 1:0 priority class
/// 47      reserved
/// 48–51   KATO    keep-alive timeout in ms (admin Connect only)
/// </code>
/// The 1024-byte data (<see cref="ConnectData"/>) travels in-capsule.
/// </summary>
public readonly record struct ConnectCommand(ushort QueueId, ushort SqSize, byte Attributes, uint KeepAliveMilliseconds, ushort RecordFormat = 0)
{
    public const int RecordFormatOffset = NvmeCommand.Cdw10Offset;
    public const int QueueIdOffset = NvmeCommand.Cdw10Offset + 2;
    public const int SqSizeOffset = NvmeCommand.Cdw10Offset + 4;
    public const int AttributesOffset = NvmeCommand.Cdw10Offset + 6;
    public const int KeepAliveOffset = NvmeCommand.Cdw10Offset + 8;

    /// <summary>CATTR bit 2: the host disabled SQ flow control (the CQE's SQHD is then FFFFh).</summary>
    public const byte DisableSqFlowControl = 0x04;

    public bool SqFlowControlDisabled => (Attributes & DisableSqFlowControl) != 0;

    /// <summary>The SQE: Fabrics Connect with these fields; the data pointer is set by whoever sends the data.</summary>
    public NvmeCommand ToCommand() => new()
    {
        Opcode = FabricsOpcodes.Fabrics,
        Nsid = FabricsOpcodes.Connect,
        Cdw10 = RecordFormat | ((uint)QueueId << 16),
        Cdw11 = SqSize | ((uint)Attributes << 16),
        Cdw12 = KeepAliveMilliseconds,
    };

    public static ConnectCommand Read(in NvmeCommand command) => new(
        QueueId: (ushort)(command.Cdw10 >> 16),
        SqSize: (ushort)command.Cdw11,
        Attributes: (byte)(command.Cdw11 >> 16),
        KeepAliveMilliseconds: command.Cdw12,
        RecordFormat: (ushort)command.Cdw10);
}
