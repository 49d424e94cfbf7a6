using NvmeMptls.Transport.Nvme;

namespace NvmeMptls.Initiator;

/// <summary>Builders for the SQEs the controller sends (reference §2.3–§3.9). Data pointers are set by the queue.</summary>
internal static class Commands
{
    public const uint PropertySize8 = 1;

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
        Cdw10 = 0,
        Cdw11 = offset,
        Cdw12 = value,
    };

    public static NvmeCommand Identify(byte cns, uint nsid, ushort controllerId = 0) => new()
    {
        Opcode = AdminOpcodes.Identify,
        Nsid = nsid,
        Cdw10 = cns | ((uint)controllerId << 16),
    };

    /// <summary>Get Log Page; <paramref name="length"/> is a multiple of 4 (reference §3.6).</summary>
    public static NvmeCommand GetLogPage(byte logId, uint nsid, ulong offset, int length, bool retainAsyncEvent)
    {
        var numd = (uint)(length / 4) - 1;
        return new NvmeCommand
        {
            Opcode = AdminOpcodes.GetLogPage,
            Nsid = nsid,
            Cdw10 = logId | (retainAsyncEvent ? 1u << 15 : 0) | ((numd & 0xFFFF) << 16),
            Cdw11 = numd >> 16,
            Cdw12 = (uint)offset,
            Cdw13 = (uint)(offset >> 32),
        };
    }

    public static NvmeCommand SetFeatures(byte featureId, uint value, uint nsid = 0) => new()
    {
        Opcode = AdminOpcodes.SetFeatures,
        Nsid = nsid,
        Cdw10 = featureId,
        Cdw11 = value,
    };

    public static NvmeCommand GetFeatures(byte featureId, uint cdw11, uint nsid = 0, byte select = 0) => new()
    {
        Opcode = AdminOpcodes.GetFeatures,
        Nsid = nsid,
        Cdw10 = featureId | ((uint)select << 8),
        Cdw11 = cdw11,
    };

    public static NvmeCommand KeepAlive() => new() { Opcode = AdminOpcodes.KeepAlive };

    public static NvmeCommand AsyncEventRequest() => new() { Opcode = AdminOpcodes.AsyncEventRequest };

    public static NvmeCommand ReadWrite(byte opcode, uint nsid, ulong lba, uint blocks, bool forceUnitAccess) => new()
    {
        Opcode = opcode,
        Nsid = nsid,
        Cdw10 = (uint)lba,
        Cdw11 = (uint)(lba >> 32),
        Cdw12 = (blocks - 1) | (forceUnitAccess ? 1u << 30 : 0),
    };

    public static NvmeCommand Flush(uint nsid) => new() { Opcode = IoOpcodes.Flush, Nsid = nsid };

    public static NvmeCommand WriteZeroes(uint nsid, ulong lba, uint blocks, bool deallocate) => new()
    {
        Opcode = IoOpcodes.WriteZeroes,
        Nsid = nsid,
        Cdw10 = (uint)lba,
        Cdw11 = (uint)(lba >> 32),
        Cdw12 = (blocks - 1) | (deallocate ? 1u << 25 : 0),
    };

    /// <summary>Dataset Management with one range and AD (deallocate) set.</summary>
    public static NvmeCommand Deallocate(uint nsid) => new()
    {
        Opcode = IoOpcodes.DatasetManagement,
        Nsid = nsid,
        Cdw10 = 0,
        Cdw11 = 1u << 2,
    };
}
