using NvmeMptls.Transport.Nvme;

namespace NvmeMptls.Initiator;

/// <summary>Builders for the SQEs the controller sends (reference §2.3–§3.9). Data pointers are set by the queue.</summary>
internal static class Commands
{
    public static NvmeCommand PropertyGet(uint offset, bool eightBytes) => ControllerRegisters.PropertyGet(offset, eightBytes);

    public static NvmeCommand PropertySet(uint offset, uint value) => ControllerRegisters.PropertySet(offset, value);

    public static NvmeCommand Identify(byte cns, uint nsid, ushort controllerId = 0) => IdentifyCns.Command(cns, nsid, controllerId);

    /// <summary>Get Log Page; <paramref name="length"/> is a multiple of 4 (reference §3.6).</summary>
    public static NvmeCommand GetLogPage(byte logId, uint nsid, ulong offset, int length, bool retainAsyncEvent) =>
        new GetLogPageCommand(logId, nsid, offset, (ulong)length, retainAsyncEvent).ToCommand();

    public static NvmeCommand SetFeatures(byte featureId, uint value, uint nsid = 0) => Features.Set(featureId, value, nsid);

    public static NvmeCommand GetFeatures(byte featureId, uint cdw11, uint nsid = 0, byte select = 0) => Features.Get(featureId, cdw11, nsid, select);

    public static NvmeCommand KeepAlive() => new() { Opcode = AdminOpcodes.KeepAlive };

    public static NvmeCommand AsyncEventRequest() => new() { Opcode = AdminOpcodes.AsyncEventRequest };

    public static NvmeCommand ReadWrite(byte opcode, uint nsid, ulong lba, uint blocks, bool forceUnitAccess) =>
        IoCommand.ReadWrite(opcode, nsid, lba, blocks, forceUnitAccess);

    public static NvmeCommand Flush(uint nsid) => new() { Opcode = IoOpcodes.Flush, Nsid = nsid };

    public static NvmeCommand WriteZeroes(uint nsid, ulong lba, uint blocks, bool deallocate) => IoCommand.WriteZeroes(nsid, lba, blocks, deallocate);

    /// <summary>Dataset Management with one range and AD (deallocate) set.</summary>
    public static NvmeCommand Deallocate(uint nsid) => IoCommand.Deallocate(nsid);
}
