using NvmeMptls.Transport.Nvme;
using NvmeMptls.Transport.Pdu;

namespace NvmeMptls.Target.Tcp;

public sealed partial class TargetQueue
{
    /// <summary>A CapsuleCmd: take a slot, check the data pointer, read in-capsule data, start the command.</summary>
    [System.Runtime.CompilerServices.AsyncMethodBuilder(typeof(System.Runtime.CompilerServices.PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask OnCapsuleAsync(CancellationToken ct)
    {
        var command = CapsuleCmdPdu.ReadCommand(_reader.Header);

        // The host may not have more commands outstanding than SQSIZE allows (NVMe/TCP flow control).
        var ctx = RentSlot() ?? throw PduException.Sequence($"command {command.CommandId} exceeds the {_slotLimit} submission slots of queue {_qid}");
        ctx.Reset(command, _registry.Time.GetTimestamp());
        if (!_sqFlowControlDisabled)
        {
            AdvanceSqHead();
        }

        var inCapsule = _reader.DataLength;
        var status = CheckDataPointer(ctx, inCapsule);
        if (inCapsule > 0)
        {
            if (status.IsSuccess)
            {
                if (!await _reader.ReadDataAsync(ctx.Buffer.AsMemory(0, inCapsule), ct).ConfigureAwait(false))
                {
                    // NVMe/TCP §3.6.2.5: a data digest error fails the command with Transient Transport Error (retryable).
                    Interlocked.Increment(ref _registry.Counters.DataDigestErrors);
                    Log.DataDigestError(_logger, RemoteEndPoint, command.CommandId);
                    status = new NvmeStatus(NvmeStatusCodes.TransientTransportError);
                }
            }
            else
            {
                await _reader.SkipDataAsync(ct).ConfigureAwait(false);
            }
        }

        if (!status.IsSuccess)
        {
            QueueResponse(ctx, status);
            return;
        }

        Dispatch(ctx);
    }

    /// <summary>Checks PSDT and the single SGL descriptor against the capsule. Reference §1.10.</summary>
    private NvmeStatus CheckDataPointer(CommandContext ctx, int inCapsule)
    {
        ref readonly var cmd = ref ctx.Command;
        var direction = cmd.Direction;
        var length = cmd.SglLength;

        // NVMe/TCP §3.3.1: commands use SGLs (PSDT 01b).
        if ((cmd.Flags & 0xC0) != NvmeCommand.PsdtSgl)
        {
            return Dnr(NvmeStatusCodes.InvalidField);
        }

        if (inCapsule > 0)
        {
            // In-capsule data must be described by a Data Block / Offset descriptor at offset 0 of the capsule data.
            if (cmd.Sgl != SglKind.InCapsule)
            {
                return Dnr(NvmeStatusCodes.SglInvalidType);
            }

            if (direction != DataDirection.HostToController)
            {
                return Dnr(NvmeStatusCodes.InvalidField);
            }

            if (cmd.SglAddress != 0)
            {
                return Dnr(NvmeStatusCodes.SglInvalidOffset);
            }

            if (length != (uint)inCapsule)
            {
                return Dnr(NvmeStatusCodes.SglInvalidDataLength);
            }

            ctx.RentBuffer(inCapsule);
            return NvmeStatus.Success;
        }

        if (length == 0)
        {
            return NvmeStatus.Success;
        }

        switch (cmd.Sgl)
        {
            case SglKind.InCapsule:
                // The descriptor promises in-capsule data the capsule does not carry.
                return Dnr(NvmeStatusCodes.SglInvalidDataLength);
            case SglKind.Unsupported:
                return Dnr(NvmeStatusCodes.SglInvalidType);
        }

        if (direction is DataDirection.None or DataDirection.Bidirectional)
        {
            return Dnr(NvmeStatusCodes.InvalidField);
        }

        // MDTS bounds every transfer, so a hostile length never reserves more than MDTS bytes.
        if (length > (uint)_registry.Limits.MaxDataTransferSize)
        {
            return Dnr(NvmeStatusCodes.InvalidField);
        }

        ctx.NeedsR2T = direction == DataDirection.HostToController;
        ctx.RentBuffer((int)length);
        return NvmeStatus.Success;
    }

    private static NvmeStatus Dnr(ushort code) => new((ushort)(code | NvmeStatus.DnrBit));

    private void Dispatch(CommandContext ctx)
    {
        ref readonly var cmd = ref ctx.Command;
        if (cmd.Opcode == FabricsOpcodes.Fabrics)
        {
            if (ctx.NeedsR2T)
            {
                QueueResponse(ctx, Dnr(NvmeStatusCodes.SglInvalidDataLength));
                return;
            }

            ExecuteFabrics(ctx);
            return;
        }

        // NVMe-oF §3.3: until Connect succeeds only a Connect command is valid on a queue.
        if (_controller is null)
        {
            QueueResponse(ctx, Dnr(NvmeStatusCodes.CommandSequenceError));
            return;
        }

        if (_qid != 0)
        {
            var status = ValidateIo(ctx);
            if (!status.IsSuccess)
            {
                QueueResponse(ctx, status);
                return;
            }
        }

        if (ctx.NeedsR2T)
        {
            ctx.State = CommandState.AwaitingData;
            _send.Writer.TryWrite(SendItem.R2T(ctx));
            return;
        }

        Execute(ctx);
    }

    /// <summary>Runs a command whose data (if any) is in its buffer.</summary>
    internal void Execute(CommandContext ctx)
    {
        ctx.State = CommandState.Executing;
        if (_qid != 0)
        {
            // File and block devices do blocking pread/pwrite: run them on the thread pool so the receive loop keeps
            // reading the next capsules (many commands in flight per queue). Memory devices complete inline.
            if (!ctx.OnWorker && ctx.Namespace is { Device.Kind: not "memory" })
            {
                ctx.OnWorker = true;
                ThreadPool.UnsafeQueueUserWorkItem(ctx, preferLocal: false);
                return;
            }

            StartIo(ctx);
            return;
        }

        var result = _controller!.ExecuteAdmin(ctx);
        if (result.Held)
        {
            ctx.State = CommandState.Held;
            return;
        }

        QueueResponse(ctx, result.Status, result.Dw0, result.Dw1, result.DataLength);
    }

    /// <summary>H2CData for an outstanding R2T. Reference §1.7 (windows checked as the Linux target does).</summary>
    [System.Runtime.CompilerServices.AsyncMethodBuilder(typeof(System.Runtime.CompilerServices.PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask OnH2CDataAsync(CancellationToken ct)
    {
        var pdu = H2CDataPdu.Read(_reader.Header);
        var ctx = pdu.TransferTag < _created ? _slots[pdu.TransferTag] : null;

        // NVMe/TCP §3.6.2.8: H2CData must answer an outstanding R2T of the same command.
        if (ctx is null || ctx.State != CommandState.AwaitingData || ctx.Command.CommandId != pdu.CommandId)
        {
            throw PduException.Sequence($"H2CData for command {pdu.CommandId} tag {pdu.TransferTag} without an outstanding R2T");
        }

        // Data must arrive in order, inside the window the R2T opened, and DATAL must match PLEN.
        if (pdu.DataOffset != (uint)ctx.Received || (ulong)pdu.DataOffset + pdu.DataLength > (ulong)ctx.TransferLength)
        {
            throw new PduException(TermReqFes.DataTransferOutOfRange, 0, $"H2CData offset {pdu.DataOffset} length {pdu.DataLength} outside the R2T window (received {ctx.Received} of {ctx.TransferLength})");
        }

        if (pdu.DataLength != (uint)_reader.DataLength)
        {
            throw PduException.HeaderField(H2CDataPdu.DataLengthFieldOffset, $"DATAL {pdu.DataLength} disagrees with PLEN ({_reader.DataLength} data bytes)");
        }

        if (!await _reader.ReadDataAsync(ctx.Buffer.AsMemory(ctx.Received, _reader.DataLength), ct).ConfigureAwait(false))
        {
            Interlocked.Increment(ref _registry.Counters.DataDigestErrors);
            Log.DataDigestError(_logger, RemoteEndPoint, pdu.CommandId);
            ctx.DataDigestError = true;
        }

        ctx.Received += _reader.DataLength;
        if (ctx.Received == ctx.TransferLength)
        {
            if (ctx.DataDigestError)
            {
                QueueResponse(ctx, new NvmeStatus(NvmeStatusCodes.TransientTransportError));
                return;
            }

            Execute(ctx);
        }
    }
}
