namespace NvmeMptls.Transport.Nvme;

/// <summary>
/// Fields of the controller registers a fabrics host reaches through Property Get/Set. Reference §2.4–§2.5.
/// <code>
/// CAP   bits 15:0 MQES (0's based), 31:24 TO (500 ms units), 37 CSS.NVM, 51:48 MPSMIN, 55:52 MPSMAX
/// CC    bit 0 EN, 6:4 CSS, 10:7 MPS, 13:11 AMS, 15:14 SHN, 19:16 IOSQES, 23:20 IOCQES
/// CSTS  bit 0 RDY, 1 CFS, 3:2 SHST
/// </code>
/// </summary>
public static class ControllerRegisters
{
    public const ulong CapNvmCommandSet = 1UL << 37;
    public const int CapTimeoutShift = 24;
    public const int CapMpsMinShift = 48;

    public const uint CcEnable = 1;
    public const int CcCssShift = 4;
    public const int CcMpsShift = 7;
    public const int CcShnShift = 14;
    public const uint CcShutdownNormal = 1u << CcShnShift;
    public const int CcIoSqEntrySizeShift = 16;
    public const int CcIoCqEntrySizeShift = 20;

    /// <summary>IOSQES 6 (64-byte SQEs) and IOCQES 4 (16-byte CQEs): the only sizes NVMe over Fabrics uses.</summary>
    public const uint CcQueueEntrySizes = (6u << CcIoSqEntrySizeShift) | (4u << CcIoCqEntrySizeShift);

    public const uint CstsReady = 1;
    public const uint CstsFatal = 2;
    public const uint CstsShutdownMask = 3u << 2;
    public const uint CstsShutdownComplete = 2u << 2;

    /// <summary>Property Get/Set CDW10 ATTRIB bits 2:0: 0 a 4-byte, 1 an 8-byte property.</summary>
    public const uint PropertySize8 = 1;

    public static ulong Capabilities(int maxQueueEntries, byte timeout500Ms) =>
        (ulong)(uint)(maxQueueEntries - 1) | ((ulong)timeout500Ms << CapTimeoutShift) | CapNvmCommandSet;

    /// <summary>CAP.MQES + 1: the largest queue the controller supports.</summary>
    public static int MaxQueueEntries(ulong cap) => (int)(cap & 0xFFFF) + 1;

    /// <summary>CAP.TO: how long the host waits for CSTS.RDY to change.</summary>
    public static TimeSpan ReadyTimeout(ulong cap) => TimeSpan.FromMilliseconds((((cap >> CapTimeoutShift) & 0xFF) + 1) * 500);

    /// <summary>CAP.MPSMIN as a page shift (12 = 4 KiB).</summary>
    public static int MinPageShift(ulong cap) => 12 + (int)((cap >> CapMpsMinShift) & 0xF);

    public static uint CcShutdownNotification(uint cc) => (cc >> CcShnShift) & 3;

    public static uint CcIoSqEntrySize(uint cc) => (cc >> CcIoSqEntrySizeShift) & 0xF;

    public static uint CcIoCqEntrySize(uint cc) => (cc >> CcIoCqEntrySizeShift) & 0xF;

    public static uint CcMemoryPageSize(uint cc) => (cc >> CcMpsShift) & 0xF;

    public static uint CcCommandSet(uint cc) => (cc >> CcCssShift) & 0x7;

    public static NvmeCommand PropertyGet(uint offset, bool eightBytes) => new()
    {
        Opcode = FabricsOpcodes.Fabrics,
        Nsid = FabricsOpcodes.PropertyGet,
        Cdw10 = eightBytes ? PropertySize8 : 0,
        Cdw11 = offset,
    };

    public static NvmeCommand PropertySet(uint offset, uint value) => new()
    {
        Opcode = FabricsOpcodes.Fabrics,
        Nsid = FabricsOpcodes.PropertySet,
        Cdw11 = offset,
        Cdw12 = value,
    };

    public static bool IsEightByteProperty(in NvmeCommand command) => (command.Cdw10 & 7) == PropertySize8;
}
