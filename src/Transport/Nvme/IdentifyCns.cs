namespace NvmeMptls.Transport.Nvme;

/// <summary>
/// Identify (admin opcode 06h) CNS values and command fields; every Identify returns 4096 bytes. Reference §3.2.
/// <code>
/// CDW10   bits 7:0 CNS, bits 31:16 CNTID
/// CDW11   bits 15:0 CNS-specific identifier, bits 31:24 CSI
/// NSID    the namespace (CNS 00h, 03h) or "list NSIDs above this one" (CNS 02h)
/// </code>
/// </summary>
public static class IdentifyCns
{
    public const int DataSize = 4096;

    public const byte Namespace = 0x00;
    public const byte Controller = 0x01;
    public const byte ActiveNamespaceList = 0x02;
    public const byte NamespaceDescriptorList = 0x03;
    public const byte IoCommandSetNamespace = 0x05;
    public const byte IoCommandSetController = 0x06;
    public const byte IndependentNamespace = 0x08;

    public static NvmeCommand Command(byte cns, uint nsid, ushort controllerId = 0, byte commandSet = 0) => new()
    {
        Opcode = AdminOpcodes.Identify,
        Nsid = nsid,
        Cdw10 = cns | ((uint)controllerId << 16),
        Cdw11 = (uint)commandSet << 24,
    };

    public static byte CnsOf(in NvmeCommand command) => (byte)command.Cdw10;

    /// <summary>CSI (command set identifier) of an Identify command: 0 is the NVM command set.</summary>
    public static byte CommandSetOf(in NvmeCommand command) => (byte)(command.Cdw11 >> 24);
}
