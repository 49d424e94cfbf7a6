namespace NvmeMptls.Transport.Nvme;

/// <summary>
/// The fields of a Get Log Page command (admin opcode 02h). Reference §3.6.
/// <code>
/// CDW10   bits 7:0 LID, bits 14:8 LSP, bit 15 RAE (retain asynchronous event), bits 31:16 NUMDL
/// CDW11   bits 15:0 NUMDU, bits 31:16 LSI
/// CDW12   LPOL  \ log page offset in bytes (dword aligned)
/// CDW13   LPOU  /
/// </code>
/// NUMDU:NUMDL is the number of dwords, 0's based.
/// </summary>
public readonly record struct GetLogPageCommand(byte LogId, uint Nsid, ulong Offset, ulong Length, bool RetainAsyncEvent, byte SpecificField = 0)
{
    public const uint RaeBit = 1u << 15;

    public NvmeCommand ToCommand()
    {
        var numd = (uint)(Length / 4) - 1;
        return new NvmeCommand
        {
            Opcode = AdminOpcodes.GetLogPage,
            Nsid = Nsid,
            Cdw10 = LogId | ((uint)(SpecificField & 0x7F) << 8) | (RetainAsyncEvent ? RaeBit : 0) | ((numd & 0xFFFF) << 16),
            Cdw11 = numd >> 16,
            Cdw12 = (uint)Offset,
            Cdw13 = (uint)(Offset >> 32),
        };
    }

    public static GetLogPageCommand Read(in NvmeCommand command) => new(
        LogId: (byte)command.Cdw10,
        Nsid: command.Nsid,
        Offset: command.Cdw12 | ((ulong)command.Cdw13 << 32),
        Length: ((((ulong)(command.Cdw11 & 0xFFFF) << 16) | (command.Cdw10 >> 16)) + 1) * 4,
        RetainAsyncEvent: (command.Cdw10 & RaeBit) != 0,
        SpecificField: (byte)((command.Cdw10 >> 8) & 0x7F));
}
