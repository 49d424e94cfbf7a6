using System.Buffers.Binary;
using NvmeMptls.Target.Commands;
using NvmeMptls.Transport.Nvme;

namespace NvmeMptls.Target.Controllers;

/// <summary>The result of an admin command: a status with DW0/DW1, data written into the command's buffer, or held (AER).</summary>
internal readonly record struct AdminResult(NvmeStatus Status, uint Dw0 = 0, uint Dw1 = 0, int DataLength = 0, bool Held = false)
{
    public static AdminResult Error(ushort code, bool dnr = true) => new(new NvmeStatus((ushort)(code | (dnr ? NvmeStatus.DnrBit : 0))));
}

public sealed partial class TargetController
{
    private const uint SupportedAsyncEvents = AsyncEvent.ConfigSmartWarnings | AsyncEvent.ConfigNamespaceAttribute | AsyncEvent.ConfigDiscoveryLogChange;

    /// <summary>Executes an admin command other than the Fabrics ones. Reference §3.</summary>
    internal AdminResult ExecuteAdmin(CommandContext ctx)
    {
        ref readonly var cmd = ref ctx.Command;

        // NVMe base 2.0 §3.5.1: until CSTS.RDY is set only Fabrics commands are accepted.
        if (!Ready)
        {
            return AdminResult.Error(NvmeStatusCodes.CommandSequenceError);
        }

        TouchKeepAlive();
        return cmd.Opcode switch
        {
            AdminOpcodes.Identify => Identify(ctx),
            AdminOpcodes.GetLogPage => GetLogPage(ctx),
            AdminOpcodes.SetFeatures => SetFeatures(cmd),
            AdminOpcodes.GetFeatures => GetFeatures(ctx),
            AdminOpcodes.AsyncEventRequest => TryQueueAer(ctx) ? new AdminResult(NvmeStatus.Success, Held: true) : AdminResult.Error(NvmeStatusCodes.AsyncEventLimitExceeded),
            AdminOpcodes.KeepAlive => KeepAliveTimeoutMs == 0 && !IsDiscovery ? AdminResult.Error(NvmeStatusCodes.KeepAliveInvalid) : new AdminResult(NvmeStatus.Success),
            AdminOpcodes.Abort => new AdminResult(NvmeStatus.Success, Dw0: 1), // "command not aborted", as Linux
            _ => AdminResult.Error(NvmeStatusCodes.InvalidOpcode),
        };
    }

    private AdminResult Identify(CommandContext ctx)
    {
        var cns = IdentifyCns.CnsOf(ctx.Command);
        var nsid = ctx.Command.Nsid;
        var page = new byte[IdentifyCns.DataSize];
        if (IsDiscovery && cns != IdentifyCns.Controller)
        {
            return AdminResult.Error(NvmeStatusCodes.InvalidField);
        }

        switch (cns)
        {
            case IdentifyCns.Namespace:
                // Linux: the broadcast NSID is invalid here; an inactive NSID returns zeroes with success.
                if (nsid is 0 or 0xFFFFFFFF)
                {
                    return AdminResult.Error(NvmeStatusCodes.InvalidNamespace);
                }

                if (Subsystem.FindNamespace(nsid) is { } ns)
                {
                    BuildIdentifyNamespace(ns).Write(page);
                }

                break;
            case IdentifyCns.Controller:
                BuildIdentifyController().Write(page);
                break;
            case IdentifyCns.ActiveNamespaceList:
                if (nsid >= 0xFFFFFFFE)
                {
                    return AdminResult.Error(NvmeStatusCodes.InvalidNamespace);
                }

                var count = 0;
                foreach (var id in Subsystem.ActiveNsids())
                {
                    if (id > nsid && count < NamespaceIdList.MaxEntries)
                    {
                        NamespaceIdList.Write(page, count++, id);
                    }
                }

                break;
            case IdentifyCns.NamespaceDescriptorList:
                if (Subsystem.FindNamespace(nsid) is not { } described)
                {
                    return AdminResult.Error(NvmeStatusCodes.InvalidNamespace);
                }

                NamespaceDescriptors.Write(page, described.Uuid, described.Nguid);
                break;
            case IdentifyCns.IoCommandSetController when IdentifyCns.CommandSetOf(ctx.Command) == NamespaceDescriptors.CommandSetNvm:
                // I/O command set specific controller data, NVM command set: all limits zero ("none"). Linux 6.1
                // hosts ask for it during bring-up even from a 1.3 controller; like nvmet, answer with zeroes
                // instead of leaving an Invalid Field entry in the error log on every connect.
                break;
            default:
                return AdminResult.Error(NvmeStatusCodes.InvalidField);
        }

        return new AdminResult(NvmeStatus.Success, DataLength: ctx.CopyOut(page));
    }

    internal IdentifyController BuildIdentifyController()
    {
        var limits = Registry.Limits;
        var nn = 1024u;
        foreach (var id in Subsystem.ActiveNsids())
        {
            nn = Math.Max(nn, id);
        }

        return new IdentifyController
        {
            Serial = Subsystem.Serial,
            Model = Subsystem.Model,
            Firmware = limits.FirmwareRevision,
            Cmic = IsDiscovery ? (byte)0 : (byte)0x03,
            Mdts = (byte)Math.Max(0, System.Numerics.BitOperations.Log2((uint)limits.MaxDataTransferSize) - 12),
            ControllerId = ControllerId,
            Version = VersionValue,
            Oaes = IsDiscovery ? AsyncEvent.ConfigDiscoveryLogChange : AsyncEvent.ConfigNamespaceAttribute,
            Ctratt = 0x01,
            ControllerType = IsDiscovery ? IdentifyController.TypeDiscovery : IdentifyController.TypeIo,
            Aerl = AsyncEventLimit,
            Lpa = 0x07,
            Elpe = ErrorLogEntries - 1,
            KeepAliveSupport = 10,
            MaxCmd = (ushort)limits.MaxQueueSize,
            NamespaceCount = IsDiscovery ? 0 : nn,
            Oncs = IsDiscovery ? (ushort)0 : (ushort)0x0D, // Compare, Dataset Management, Write Zeroes
            Vwc = IsDiscovery ? (byte)0 : (byte)0x07,     // volatile write cache; Flush with NSID FFFFFFFFh supported
            Sgls = 0x00100001,                              // SGLs, any alignment; address is an offset (in-capsule)
            SubsystemNqn = Subsystem.Nqn,
            Ioccsz = (uint)(64 + limits.InCapsuleDataSize) / 16,
            Iorcsz = 1,
            Msdbd = 1,
        };
    }

    private static IdentifyNamespace BuildIdentifyNamespace(Subsystems.TargetNamespace ns) => new()
    {
        BlockCount = ns.BlockCount,
        Capacity = ns.BlockCount,
        Utilization = ns.BlockCount,
        Nmic = 1,
        Dlfeat = 0x09, // deallocated blocks read as zeroes; Write Zeroes supports DEAC
        WriteProtected = ns.ReadOnly,
        Nguid = ns.Nguid,
        LbaDataSizeShift = ns.LbaShift,
    };

    private AdminResult SetFeatures(in NvmeCommand cmd)
    {
        var fid = Features.FeatureIdOf(cmd);
        if (Features.SaveOf(cmd))
        {
            return AdminResult.Error(NvmeStatusCodes.FeatureNotSaveable);
        }

        switch (fid)
        {
            case FeatureIds.NumberOfQueues:
                // Reference §3.8: FFFFh (65536 queues) in either half is Invalid Field.
                var (nsqr, ncqr) = Features.DecodeQueueCount(cmd.Cdw11);
                if (IsDiscovery || nsqr > ushort.MaxValue || ncqr > ushort.MaxValue)
                {
                    return AdminResult.Error(NvmeStatusCodes.InvalidField);
                }

                IoQueueLimit = Math.Min(Math.Min(nsqr, ncqr), Registry.Limits.MaxIoQueues);
                return new AdminResult(NvmeStatus.Success, Dw0: Features.EncodeQueueCount(IoQueueLimit, IoQueueLimit));
            case FeatureIds.AsyncEventConfig:
                if ((cmd.Cdw11 & ~SupportedAsyncEvents) != 0)
                {
                    return AdminResult.Error(NvmeStatusCodes.InvalidField);
                }

                AsyncEventConfig = cmd.Cdw11;
                return new AdminResult(NvmeStatus.Success);
            case FeatureIds.KeepAliveTimer:
                SetKeepAliveTimeout(cmd.Cdw11);
                return new AdminResult(NvmeStatus.Success);
            case FeatureIds.VolatileWriteCache when !IsDiscovery:
                VolatileWriteCacheEnabled = (cmd.Cdw11 & 1) != 0;
                return new AdminResult(NvmeStatus.Success);
            default:
                return AdminResult.Error(NvmeStatusCodes.InvalidField);
        }
    }

    private AdminResult GetFeatures(CommandContext ctx)
    {
        ref readonly var cmd = ref ctx.Command;
        var fid = Features.FeatureIdOf(cmd);
        if (Features.SelectOf(cmd) == Features.SelectSupportedCapabilities)
        {
            // Supported capabilities: changeable, not saveable, not namespace specific.
            return fid is FeatureIds.NumberOfQueues or FeatureIds.AsyncEventConfig or FeatureIds.KeepAliveTimer or FeatureIds.VolatileWriteCache
                ? new AdminResult(NvmeStatus.Success, Dw0: Features.CapabilityChangeable)
                : AdminResult.Error(NvmeStatusCodes.InvalidField);
        }

        switch (fid)
        {
            case FeatureIds.NumberOfQueues when !IsDiscovery:
                return new AdminResult(NvmeStatus.Success, Dw0: Features.EncodeQueueCount(IoQueueLimit, IoQueueLimit));
            case FeatureIds.AsyncEventConfig:
                return new AdminResult(NvmeStatus.Success, Dw0: AsyncEventConfig);
            case FeatureIds.KeepAliveTimer:
                return new AdminResult(NvmeStatus.Success, Dw0: KeepAliveTimeoutMs);
            case FeatureIds.VolatileWriteCache when !IsDiscovery:
                return new AdminResult(NvmeStatus.Success, Dw0: VolatileWriteCacheEnabled ? 1u : 0u);
            case FeatureIds.HostIdentifier:
                // Only the 128-bit (extended) host identifier is supported: CDW11 bit 0 must be set.
                if ((cmd.Cdw11 & 1) == 0)
                {
                    return AdminResult.Error(NvmeStatusCodes.HostIdInconsistent);
                }

                var id = new byte[16];
                HostId.TryWriteBytes(id, bigEndian: true, out _);
                return new AdminResult(NvmeStatus.Success, DataLength: ctx.CopyOut(id));
            default:
                return AdminResult.Error(NvmeStatusCodes.InvalidField);
        }
    }
}
