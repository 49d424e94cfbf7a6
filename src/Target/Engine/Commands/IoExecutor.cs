using System.Buffers;
using System.Buffers.Binary;
using Microsoft.Extensions.Logging;
using NvmeMptls.Target.Controllers;
using NvmeMptls.Target.Subsystems;
using NvmeMptls.Transport.Nvme;

namespace NvmeMptls.Target.Commands;

/// <summary>
/// The I/O commands of one queue: opcode, namespace, LBA range and transfer length checked before any data is
/// requested; then the device operation (read, write with FUA, flush, write zeroes, dataset management, compare),
/// which completes through the context's cached continuation without allocating.
/// </summary>
internal sealed class IoExecutor(CommandExecutor executor, ILogger logger)
{
    private const uint BroadcastNsid = 0xFFFFFFFF;

    private readonly CommandExecutor _executor = executor;
    private readonly ILogger _logger = logger;

    /// <summary>Checks opcode, namespace, LBA range and transfer length before any data is requested. Reference §3.9.</summary>
    public static NvmeStatus Validate(CommandContext ctx, TargetController controller)
    {
        ref readonly var cmd = ref ctx.Command;
        var op = cmd.Opcode;
        if (op is not (IoOpcodes.Read or IoOpcodes.Write or IoOpcodes.Flush or IoOpcodes.WriteZeroes or IoOpcodes.DatasetManagement or IoOpcodes.Compare)
            && !ReservationCommands.Is(op))
        {
            return Dnr(NvmeStatusCodes.InvalidOpcode);
        }

        if (op == IoOpcodes.Flush && cmd.Nsid == BroadcastNsid)
        {
            return NvmeStatus.Success;
        }

        var ns = controller.Subsystem.FindNamespace(cmd.Nsid);
        if (ns is null || !ns.TryAcquire())
        {
            return Dnr(NvmeStatusCodes.InvalidNamespace);
        }

        ctx.AttachNamespace(ns);

        // NVMe Base 2.0 §8.1.3.3–§8.1.3.5: on a path where the namespace's ANA group is inaccessible, lost or changing,
        // I/O completes with the matching SCT 3h status and no DNR, so a multipath host retries on another path.
        var ana = controller.Registry.Ana.StateOf(ctx.Queue.Port.Id, ns.AnaGroupId);
        if (!AnaStates.ServesIo(ana))
        {
            return AnaStates.IoStatus(ana);
        }

        if (ReservationCommands.Is(op))
        {
            return ReservationCommands.Validate(cmd, ctx.TransferLength);
        }

        var writes = op is IoOpcodes.Write or IoOpcodes.WriteZeroes || (op == IoOpcodes.DatasetManagement && IoCommand.DsmDeallocateOf(cmd));

        // NVMe Base 2.0 §8.19.1, Figure 421: a host without access under the namespace's reservation gets Reservation
        // Conflict; Flush and Dataset Management count as writes there.
        // Namespace Not Ready (no DNR) instead while a gateway group's shared state may be stale.
        var access = ns.Reservations.CheckAccess(controller.HostId, writes || op is IoOpcodes.Flush or IoOpcodes.DatasetManagement);
        if (!access.IsSuccess)
        {
            return access;
        }

        if (writes && ns.ReadOnly)
        {
            return Dnr(NvmeStatusCodes.NamespaceWriteProtected);
        }

        switch (op)
        {
            case IoOpcodes.Read or IoOpcodes.Write or IoOpcodes.Compare or IoOpcodes.WriteZeroes:
                var slba = IoCommand.StartLbaOf(cmd);
                ulong nlb = IoCommand.BlockCountOf(cmd);
                if (slba >= ns.BlockCount || nlb > ns.BlockCount - slba)
                {
                    return Dnr(NvmeStatusCodes.LbaOutOfRange);
                }

                // The transfer the SGL describes must be exactly NLB blocks.
                if (op != IoOpcodes.WriteZeroes && (ulong)ctx.TransferLength != nlb << ns.LbaShift)
                {
                    return Dnr(NvmeStatusCodes.SglInvalidDataLength);
                }

                return NvmeStatus.Success;
            case IoOpcodes.DatasetManagement:
                var ranges = IoCommand.DsmRangeCountOf(cmd);
                return ctx.TransferLength < ranges * DsmRange.Size ? Dnr(NvmeStatusCodes.SglInvalidDataLength) : NvmeStatus.Success;
            default:
                return NvmeStatus.Success;
        }
    }

    /// <summary>Runs a validated I/O command whose data is in.</summary>
    public void Execute(CommandContext ctx)
    {
        // File and block devices do blocking pread/pwrite: run them on the thread pool so the receive loop keeps
        // reading the next capsules (many commands in flight per queue). Memory devices complete inline.
        if (ctx.Namespace is { Device.CompletesInline: false })
        {
            ThreadPool.UnsafeQueueUserWorkItem(ctx, preferLocal: false);
            return;
        }

        Start(ctx);
    }

    /// <summary>Starts the device operation; <see cref="OnDeviceCompleted"/> finishes it without allocating.</summary>
    public void Start(CommandContext ctx)
    {
        ref readonly var cmd = ref ctx.Command;
        var ns = ctx.Namespace;
        if (ns is not null && !ReservationCommands.Is(cmd.Opcode) && !EnterReservationGate(ctx, ns))
        {
            return;
        }

        try
        {
            switch (cmd.Opcode)
            {
                case IoOpcodes.Read:
                    ctx.AwaitDevice(ns!.Device.ReadAsync(Offset(cmd, ns), ctx.DataMemory));
                    return;
                case IoOpcodes.Write:
                    // FUA (CDW12 bit 30) or a disabled volatile write cache make the write durable before completion.
                    var fua = IoCommand.ForceUnitAccessOf(cmd) || !_executor.Controller!.VolatileWriteCacheEnabled;
                    ctx.AwaitDevice(ns!.Device.WriteAsync(Offset(cmd, ns), ctx.DataMemory, fua));
                    return;
                case IoOpcodes.Flush:
                    ctx.AwaitDevice(ns is null ? FlushAllAsync() : ns.Device.FlushAsync());
                    return;
                case IoOpcodes.WriteZeroes:
                    var length = (long)IoCommand.BlockCountOf(cmd) << ns!.LbaShift;
                    ctx.AwaitDevice(ns.Device.WriteZeroesAsync(Offset(cmd, ns), length, IoCommand.DeallocateOf(cmd)));
                    return;
                case IoOpcodes.DatasetManagement:
                    ctx.AwaitDevice(IoCommand.DsmDeallocateOf(cmd) ? DeallocateRangesAsync(ctx) : ValueTask.CompletedTask);
                    return;
                case IoOpcodes.Compare:
                    ctx.AwaitDevice(CompareAsync(ctx));
                    return;
                default:
                    // Reservation commands change the namespace's reservation state only: done at once, no device I/O.
                    ctx.DeviceStatus = ReservationCommands.Execute(ctx, _executor.Controller!);
                    ctx.AwaitDevice(ValueTask.CompletedTask);
                    return;
            }
        }
        catch (Exception ex)
        {
            OnDeviceCompleted(ctx, ex);
        }
    }

    /// <summary>
    /// NVMe Base 2.0 §8.19.1 and §7.3 (Preempt and Abort): checked again as the command reaches the device, since the
    /// reservation may have changed while its data arrived; the command holds the namespace's gate until it completes.
    /// </summary>
    private bool EnterReservationGate(CommandContext ctx, TargetNamespace ns)
    {
        var op = ctx.Command.Opcode;
        var writes = op is IoOpcodes.Write or IoOpcodes.WriteZeroes or IoOpcodes.Flush or IoOpcodes.DatasetManagement;
        var status = ns.Reservations.EnterIo(_executor.Controller!.HostId, writes, out var slot);
        if (!status.IsSuccess)
        {
            _executor.Complete(ctx, status, dataLength: 0);
            return false;
        }

        ctx.ReservationSlot = slot;
        return true;
    }

    private static long Offset(in NvmeCommand cmd, TargetNamespace ns) => (long)(IoCommand.StartLbaOf(cmd) << ns.LbaShift);

    public void OnDeviceCompleted(CommandContext ctx, Exception? error)
    {
        // Off the device: a Preempt and Abort waiting for this command's host may complete now.
        if (ctx.ReservationSlot >= 0)
        {
            ctx.Namespace?.Reservations.ExitIo(ctx.ReservationSlot);
            ctx.ReservationSlot = -1;
        }

        NvmeStatus status;
        if (error is null)
        {
            status = ctx.DeviceStatus;
        }
        else
        {
            status = error switch
            {
                ObjectDisposedException => new NvmeStatus(NvmeStatusCodes.NamespaceNotReady),

                // This target cannot reach the storage (fenced or timed-out Ceph client), another path may: a
                // path-related status without DNR makes a multipath host fail over. NVMe Base 2.0, Path Related Status
                // (SCT 3h) values, reference §3.10: without ANA groups that is Internal Path Error (00h).
                Namespaces.DevicePathException => new NvmeStatus(NvmeStatusCodes.InternalPathError),
                IOException when ctx.Command.Opcode == IoOpcodes.Read => new NvmeStatus(NvmeStatusCodes.UnrecoveredReadError),
                IOException => new NvmeStatus(NvmeStatusCodes.WriteFault),
                _ => new NvmeStatus(NvmeStatusCodes.InternalError),
            };
            CommandLog.DeviceError(_logger, _executor.Queue.RemoteEndPoint, ctx.Command.CommandId, ctx.Command.Opcode, error.Message);
        }

        var dataLength = ctx.Command.Opcode is IoOpcodes.Read or IoOpcodes.ReservationReport ? ctx.TransferLength : 0;
        _executor.Complete(ctx, status, dataLength: dataLength);
    }

    private static NvmeStatus Dnr(ushort code) => CommandExecutor.Dnr(code);

    private async ValueTask FlushAllAsync()
    {
        foreach (var ns in _executor.Controller!.Subsystem.Namespaces)
        {
            if (!ns.Removed)
            {
                await ns.Device.FlushAsync().ConfigureAwait(false);
            }
        }
    }

    /// <summary>Dataset Management with AD: each 16-byte range (NLB is 1's based) is deallocated. Reference §3.9.</summary>
    private static async ValueTask DeallocateRangesAsync(CommandContext ctx)
    {
        var ns = ctx.Namespace!;
        var ranges = IoCommand.DsmRangeCountOf(ctx.Command);
        for (var i = 0; i < ranges; i++)
        {
            var range = DsmRange.Read(ctx.Data[(i * DsmRange.Size)..]);
            ulong nlb = range.Blocks;
            var slba = range.StartLba;
            if (nlb == 0)
            {
                continue;
            }

            if (slba >= ns.BlockCount || nlb > ns.BlockCount - slba)
            {
                ctx.DeviceStatus = Dnr(NvmeStatusCodes.LbaOutOfRange);
                return;
            }

            await ns.Device.DeallocateAsync((long)(slba << ns.LbaShift), (long)nlb << ns.LbaShift).ConfigureAwait(false);
        }
    }

    private static async ValueTask CompareAsync(CommandContext ctx)
    {
        var ns = ctx.Namespace!;
        var stored = ArrayPool<byte>.Shared.Rent(ctx.TransferLength);
        try
        {
            await ns.Device.ReadAsync(Offset(ctx.Command, ns), stored.AsMemory(0, ctx.TransferLength)).ConfigureAwait(false);
            if (!stored.AsSpan(0, ctx.TransferLength).SequenceEqual(ctx.Data))
            {
                ctx.DeviceStatus = Dnr(NvmeStatusCodes.CompareFailure);
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(stored);
        }
    }
}
