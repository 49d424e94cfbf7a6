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
                    BuildIdentifyNamespace(ns, Registry.Ana.StateOf(ctx.Queue.Port.Id, ns.AnaGroupId)).Write(page);
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
            // We own neither a PCI-SIG vendor id nor an IEEE OUI, and borrowing one (SPDK reports Intel's 8086h and
            // 5CD2E4h) would impersonate that vendor. Linux nvmet reports zero for VID, SSVID and IEEE unless an
            // operator configures them (admin-cmd.c: "the safest is to leave it as zeroes"); so do we.
            VendorId = 0,
            SubsystemVendorId = 0,
            IeeeOui = 0,
            Serial = Subsystem.Serial,
            Model = Subsystem.Model,
            Firmware = limits.FirmwareRevision,
            // Several ports, several controllers, and ANA reporting (log 0Ch, ANAGRPID, ANA statuses), as Linux nvmet.
            Cmic = IsDiscovery ? (byte)0 : (byte)(IdentifyController.CmicMultiPort | IdentifyController.CmicMultiController | IdentifyController.CmicAnaReporting),
            Mdts = (byte)Math.Max(0, System.Numerics.BitOperations.Log2((uint)limits.MaxDataTransferSize) - 12),
            ControllerId = ControllerId,
            Version = VersionValue,
            Oaes = IsDiscovery ? AsyncEvent.ConfigDiscoveryLogChange : AsyncEvent.ConfigNamespaceAttribute | AsyncEvent.ConfigAnaChange,
            Ctratt = 0x01,
            ControllerType = IsDiscovery ? IdentifyController.TypeDiscovery : IdentifyController.TypeIo,
            Aerl = AsyncEventLimit,
            // Claim only what GetLogPage serves: a discovery controller serves Error Information and Discovery (both
            // need no LPA bit) with LPO honoured; an I/O controller also serves per-namespace SMART and log 05h.
            Lpa = IsDiscovery
                ? IdentifyController.LpaExtendedData
                : (byte)(IdentifyController.LpaSmartPerNamespace | IdentifyController.LpaCommandEffects | IdentifyController.LpaExtendedData),
            Elpe = ErrorLogEntries - 1,
            KeepAliveSupport = 10,
            AnaTransitionTime = IsDiscovery ? (byte)0 : Registry.Ana.TransitionTimeSeconds,
            AnaCapabilities = IsDiscovery ? (byte)0 : IdentifyController.AnacapAllStates,
            AnaGroupIdMax = IsDiscovery ? 0 : Subsystems.AnaGroups.MaxGroupId,
            AnaGroupCount = IsDiscovery ? 0 : Subsystems.AnaGroups.MaxGroupId,
            MaxCmd = (ushort)limits.MaxQueueSize,
            NamespaceCount = IsDiscovery ? 0 : nn,
            Oncs = IsDiscovery ? (ushort)0 : (ushort)0x2D, // Compare, Dataset Management, Write Zeroes, Reservations
            Vwc = IsDiscovery ? (byte)0 : (byte)0x07,     // volatile write cache; Flush with NSID FFFFFFFFh supported
            Sgls = 0x00100001,                              // SGLs, any alignment; address is an offset (in-capsule)
            SubsystemNqn = Subsystem.Nqn,
            Ioccsz = (uint)(64 + limits.InCapsuleDataSize) / 16,
            Iorcsz = 1,
            Msdbd = 1,
        };
    }

    /// <summary>
    /// On a path where the namespace's group is inaccessible or lost, NUSE reads 0 as from Linux nvmet: this controller
    /// cannot tell what is allocated. NSZE and NCAP stay, so the host sees one namespace on every path.
    /// </summary>
    private static IdentifyNamespace BuildIdentifyNamespace(Subsystems.TargetNamespace ns, AnaState state) => new()
    {
        BlockCount = ns.BlockCount,
        Capacity = ns.BlockCount,
        Utilization = state is AnaState.Inaccessible or AnaState.PersistentLoss ? 0 : ns.BlockCount,
        AnaGroupId = ns.AnaGroupId,
        ReservationCapabilities = ns.Reservations.PersistenceSupported ? ReservationTypes.CapabilitiesAll : (byte)(ReservationTypes.CapabilitiesAll & ~1),
        Nmic = 1,
        Dlfeat = 0x09, // deallocated blocks read as zeroes; Write Zeroes supports DEAC
        WriteProtected = ns.ReadOnly,
        Nguid = ns.Nguid,
        LbaDataSizeShift = ns.LbaShift,
    };
}
