using System.Buffers;
using System.Buffers.Binary;
using NvmeMptls.Target.Server;
using NvmeMptls.Target.Subsystems;
using NvmeMptls.Transport.Nvme;

namespace NvmeMptls.Target.Tcp;

public sealed partial class TargetQueue
{
    private const uint BroadcastNsid = 0xFFFFFFFF;

    /// <summary>Checks opcode, namespace, LBA range and transfer length before any data is requested. Reference §3.9.</summary>
    private NvmeStatus ValidateIo(CommandContext ctx)
    {
        ref readonly var cmd = ref ctx.Command;
        var op = cmd.Opcode;
        if (op is not (IoOpcodes.Read or IoOpcodes.Write or IoOpcodes.Flush or IoOpcodes.WriteZeroes or IoOpcodes.DatasetManagement or IoOpcodes.Compare))
        {
            return Dnr(NvmeStatusCodes.InvalidOpcode);
        }

        if (op == IoOpcodes.Flush && cmd.Nsid == BroadcastNsid)
        {
            return NvmeStatus.Success;
        }

        var ns = _controller!.Subsystem.FindNamespace(cmd.Nsid);
        if (ns is null || !ns.TryAcquire())
        {
            return Dnr(NvmeStatusCodes.InvalidNamespace);
        }

        ctx.Namespace = ns;
        var writes = op is IoOpcodes.Write or IoOpcodes.WriteZeroes || (op == IoOpcodes.DatasetManagement && (cmd.Cdw11 & 4) != 0);
        if (writes && ns.ReadOnly)
        {
            return Dnr(NvmeStatusCodes.NamespaceWriteProtected);
        }

        switch (op)
        {
            case IoOpcodes.Read or IoOpcodes.Write or IoOpcodes.Compare or IoOpcodes.WriteZeroes:
                var slba = cmd.Cdw10 | ((ulong)cmd.Cdw11 << 32);
                var nlb = (ulong)(cmd.Cdw12 & 0xFFFF) + 1;
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
                var ranges = (int)(cmd.Cdw10 & 0xFF) + 1;
                return ctx.TransferLength < ranges * 16 ? Dnr(NvmeStatusCodes.SglInvalidDataLength) : NvmeStatus.Success;
            default:
                return NvmeStatus.Success;
        }
    }

    /// <summary>Starts the device operation; <see cref="OnDeviceCompleted"/> finishes it without allocating.</summary>
    private void StartIo(CommandContext ctx)
    {
        ref readonly var cmd = ref ctx.Command;
        var ns = ctx.Namespace;
        try
        {
            switch (cmd.Opcode)
            {
                case IoOpcodes.Read:
                    ctx.AwaitDevice(ns!.Device.ReadAsync(Offset(cmd, ns), ctx.DataMemory));
                    return;
                case IoOpcodes.Write:
                    // FUA (CDW12 bit 30) or a disabled volatile write cache make the write durable before completion.
                    var fua = (cmd.Cdw12 & (1u << 30)) != 0 || !_controller!.VolatileWriteCacheEnabled;
                    ctx.AwaitDevice(ns!.Device.WriteAsync(Offset(cmd, ns), ctx.DataMemory, fua));
                    return;
                case IoOpcodes.Flush:
                    ctx.AwaitDevice(ns is null ? FlushAllAsync() : ns.Device.FlushAsync());
                    return;
                case IoOpcodes.WriteZeroes:
                    var length = (long)((cmd.Cdw12 & 0xFFFF) + 1) << ns!.LbaShift;
                    var deallocate = (cmd.Cdw12 & (1u << 25)) != 0;
                    ctx.AwaitDevice(ns.Device.WriteZeroesAsync(Offset(cmd, ns), length, deallocate));
                    return;
                case IoOpcodes.DatasetManagement:
                    ctx.AwaitDevice((cmd.Cdw11 & 4) != 0 ? DeallocateRangesAsync(ctx) : ValueTask.CompletedTask);
                    return;
                case IoOpcodes.Compare:
                    ctx.AwaitDevice(CompareAsync(ctx));
                    return;
            }
        }
        catch (Exception ex)
        {
            OnDeviceCompleted(ctx, ex);
        }
    }

    private static long Offset(in NvmeCommand cmd, TargetNamespace ns) => (long)((cmd.Cdw10 | ((ulong)cmd.Cdw11 << 32)) << ns.LbaShift);

    internal void OnDeviceCompleted(CommandContext ctx, Exception? error)
    {
        NvmeStatus status;
        if (error is null)
        {
            status = ctx.Phase == 1 ? Dnr(NvmeStatusCodes.CompareFailure) : ctx.Phase == 2 ? Dnr(NvmeStatusCodes.LbaOutOfRange) : NvmeStatus.Success;
        }
        else
        {
            status = error switch
            {
                ObjectDisposedException => new NvmeStatus(NvmeStatusCodes.NamespaceNotReady),
                IOException when ctx.Command.Opcode == IoOpcodes.Read => new NvmeStatus(NvmeStatusCodes.UnrecoveredReadError),
                IOException => new NvmeStatus(NvmeStatusCodes.WriteFault),
                _ => new NvmeStatus(NvmeStatusCodes.InternalError),
            };
            Log.ConnectionLost(_logger, RemoteEndPoint, $"I/O error on command {ctx.Command.CommandId}: {error.Message}");
        }

        var dataLength = ctx.Command.Opcode == IoOpcodes.Read ? ctx.TransferLength : 0;
        QueueResponse(ctx, status, dataLength: dataLength);
    }

    /// <summary>Counts a completed command against its namespace (SMART log, metrics) and observes its latency.</summary>
    private void OnResponseWritten(CommandContext ctx)
    {
        if (Metrics is { } metrics && _controller is { IsDiscovery: false } controller)
        {
            ObserveMetrics(metrics, controller.Subsystem.Nqn, ctx);
        }

        if (ctx.Namespace is not { } ns || !ctx.Completion.Status.IsSuccess)
        {
            return;
        }

        var c = ns.Counters;
        switch (ctx.Command.Opcode)
        {
            case IoOpcodes.Read:
                Interlocked.Increment(ref c.ReadCommands);
                Interlocked.Add(ref c.BytesRead, ctx.TransferLength);
                break;
            case IoOpcodes.Write:
                Interlocked.Increment(ref c.WriteCommands);
                Interlocked.Add(ref c.BytesWritten, ctx.TransferLength);
                break;
            case IoOpcodes.Flush:
                Interlocked.Increment(ref c.FlushCommands);
                break;
            default:
                Interlocked.Increment(ref c.OtherCommands);
                break;
        }
    }

    // Runs on the send loop only, so the one-entry namespace cache needs no lock; the lookup allocates only the
    // first time a namespace is seen by the metrics.
    private void ObserveMetrics(ITargetObserver metrics, string subsystemNqn, CommandContext ctx)
    {
        var status = ctx.Completion.Status;
        if (!status.IsSuccess)
        {
            metrics.CommandError(subsystemNqn, ctx.Namespace?.Nsid ?? 0, status);
            return;
        }

        if (ctx.Namespace is not { } ns)
        {
            return;
        }

        if (!ReferenceEquals(ns, _metricsNamespace))
        {
            _metricsNamespaceChildren = metrics.ForNamespace(subsystemNqn, ns);
            _metricsNamespace = ns;
        }

        var elapsed = _registry.Time.GetElapsedTime(ctx.StartTimestamp);
        _metricsNamespaceChildren!.CommandCompleted(ctx.Command.Opcode, elapsed.TotalSeconds);
    }

    private async ValueTask FlushAllAsync()
    {
        foreach (var ns in _controller!.Subsystem.Namespaces)
        {
            if (!ns.Removed)
            {
                await ns.Device.FlushAsync().ConfigureAwait(false);
            }
        }
    }

    /// <summary>Dataset Management with AD: each 16-byte range (NLB is 1's based) is deallocated. Reference §3.9.</summary>
    private async ValueTask DeallocateRangesAsync(CommandContext ctx)
    {
        var ns = ctx.Namespace!;
        var ranges = (int)(ctx.Command.Cdw10 & 0xFF) + 1;
        for (var i = 0; i < ranges; i++)
        {
            var nlb = BinaryPrimitives.ReadUInt32LittleEndian(ctx.Data[((i * 16) + 4)..]);
            var slba = BinaryPrimitives.ReadUInt64LittleEndian(ctx.Data[((i * 16) + 8)..]);
            if (nlb == 0)
            {
                continue;
            }

            if (slba >= ns.BlockCount || nlb > ns.BlockCount - slba)
            {
                ctx.Phase = 2;
                return;
            }

            await ns.Device.DeallocateAsync((long)(slba << ns.LbaShift), (long)nlb << ns.LbaShift).ConfigureAwait(false);
        }
    }

    private async ValueTask CompareAsync(CommandContext ctx)
    {
        var ns = ctx.Namespace!;
        var stored = ArrayPool<byte>.Shared.Rent(ctx.TransferLength);
        try
        {
            await ns.Device.ReadAsync(Offset(ctx.Command, ns), stored.AsMemory(0, ctx.TransferLength)).ConfigureAwait(false);
            if (!stored.AsSpan(0, ctx.TransferLength).SequenceEqual(ctx.Data))
            {
                ctx.Phase = 1;
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(stored);
        }
    }
}
