using NvmeMptls.Target.Controllers;
using NvmeMptls.Transport.Nvme;

namespace NvmeMptls.Target.Commands;

/// <summary>
/// The reservation I/O commands (Register 0Dh, Report 0Eh, Acquire 11h, Release 15h; NVMe Base 2.0 §7.3–§7.6) on the
/// namespace's <see cref="Subsystems.NamespaceReservations"/>, as the host identified by its Connect HOSTID; the
/// notices a change causes go to every controller of the hosts concerned (on other gateways of a shared namespace, by
/// its store's notify). Preempt and Abort completes after the preempted hosts' commands on the device finished; theirs
/// reaching the device later are aborted (<see cref="Subsystems.NamespaceReservations.EnterIo"/>).
/// </summary>
internal static class ReservationCommands
{
    public static bool Is(byte opcode) => opcode is IoOpcodes.ReservationRegister or IoOpcodes.ReservationReport or IoOpcodes.ReservationAcquire or IoOpcodes.ReservationRelease;

    /// <summary>The data each command needs: two keys for Register and Acquire, one for Release, at least the header for Report.</summary>
    public static NvmeStatus Validate(in NvmeCommand command, int transferLength) => command.Opcode switch
    {
        IoOpcodes.ReservationRegister or IoOpcodes.ReservationAcquire when transferLength < ReservationCommand.KeysDataSize => Dnr(NvmeStatusCodes.SglInvalidDataLength),
        IoOpcodes.ReservationRelease when transferLength < ReservationCommand.ReleaseDataSize => Dnr(NvmeStatusCodes.SglInvalidDataLength),

        // NVMe Base 2.0 §7.6: a fabrics host's identifier is 128 bits, so the report must be the extended one (EDS).
        IoOpcodes.ReservationReport when !ReservationCommand.ExtendedReport(command) => Dnr(NvmeStatusCodes.HostIdInconsistent),
        IoOpcodes.ReservationReport when transferLength < 4 => Dnr(NvmeStatusCodes.SglInvalidDataLength),
        _ => NvmeStatus.Success,
    };

    public static NvmeStatus Execute(CommandContext ctx, TargetController controller)
    {
        ref readonly var cmd = ref ctx.Command;
        var ns = ctx.Namespace!;
        var reservations = ns.Reservations;
        var fields = ReservationCommand.Read(cmd);
        var notices = new List<Subsystems.ReservationNotice>();
        NvmeStatus status;
        switch (cmd.Opcode)
        {
            case IoOpcodes.ReservationRegister:
                var (current, next) = ReservationCommand.ReadKeys(ctx.Data);
                status = reservations.Register(controller.HostId, fields, current, next, notices);
                break;
            case IoOpcodes.ReservationAcquire:
                var (key, preempt) = ReservationCommand.ReadKeys(ctx.Data);
                status = reservations.Acquire(controller.HostId, fields, key, preempt, notices);
                break;
            case IoOpcodes.ReservationRelease:
                status = reservations.Release(controller.HostId, fields, ReservationCommand.ReadKeys(ctx.Data).Current, notices);
                break;
            default:
                reservations.Report(controller.Subsystem.ControllerOf).Write(ctx.Data);
                return NvmeStatus.Success;
        }

        if (notices.Count > 0)
        {
            controller.Subsystem.NotifyReservation(ns.Nsid, notices);
        }

        return status;
    }

    private static NvmeStatus Dnr(ushort code) => CommandExecutor.Dnr(code);
}
