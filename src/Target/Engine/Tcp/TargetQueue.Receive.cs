using NvmeMptls.Target.Commands;
using NvmeMptls.Target.Server;
using NvmeMptls.Transport.Nvme;
using NvmeMptls.Transport.Pdu;

namespace NvmeMptls.Target.Tcp;

public sealed partial class TargetQueue
{
    private async Task ReceiveLoopAsync(CancellationToken ct)
    {
        try
        {
            await ReceivePdusAsync(ct).ConfigureAwait(false);
        }
        finally
        {
            // Whatever ends the loop, submissions the last burst held back still go in: their commands complete.
            _submissions.Flush();
        }
    }

    private async Task ReceivePdusAsync(CancellationToken ct)
    {
        if (!await _reader.ReadHeaderAsync(ct).ConfigureAwait(false))
        {
            return;
        }

        OnInitializeConnection();
        while (!_terminated && await _reader.ReadHeaderAsync(ct).ConfigureAwait(false))
        {
            switch (_reader.Common.Type)
            {
                case PduType.CapsuleCmd:
                    await OnCapsuleAsync(ct).ConfigureAwait(false);
                    break;
                case PduType.H2CData:
                    await OnH2CDataAsync(ct).ConfigureAwait(false);
                    break;
                case PduType.H2CTermReq:
                    var term = H2CTermReqPdu.Read(_reader.Header);
                    await _reader.SkipDataAsync(ct).ConfigureAwait(false);
                    throw new TermReqReceivedException(term.Fes, term.Fei);
                default:
                    // NVMe/TCP §3.6.2.2: ICReq is valid only as the first PDU.
                    throw PduException.Sequence($"{_reader.Common.Type} after connection initialization");
            }
        }
    }

    /// <summary>ICReq → ICResp. Reference §1.4.</summary>
    private void OnInitializeConnection()
    {
        if (_reader.Common.Type != PduType.ICReq)
        {
            // NVMe/TCP §3.6.2.2: the first PDU must be an ICReq.
            throw PduException.Sequence($"{_reader.Common.Type} before ICReq");
        }

        var icreq = IcReqPdu.Read(_reader.Header);

        // NVMe/TCP §3.6.2.2: PFV 0 is the only version; HPDA ranges 0..31.
        if (icreq.Pfv != 0)
        {
            throw new PduException(TermReqFes.UnsupportedParameter, IcReqPdu.PfvOffset, $"unsupported PDU format version {icreq.Pfv}");
        }

        if (icreq.Hpda > 31)
        {
            throw PduException.HeaderField(IcReqPdu.HpdaOffset, $"HPDA {icreq.Hpda} out of range 0..31");
        }

        _settings.SendAlignment = icreq.Hpda;
        _settings.HeaderDigest = icreq.HeaderDigest;
        _settings.DataDigest = icreq.DataDigest;
        EnterSetupPhase(SetupPhase.Connect);
        Post(SendItem.IcResp(new IcRespPdu(0, 0, icreq.HeaderDigest, icreq.DataDigest, _registry.Limits.MaxH2CData)));
    }

    /// <summary>A CapsuleCmd: take a slot, check the data pointer, read in-capsule data, hand the command on.</summary>
    [System.Runtime.CompilerServices.AsyncMethodBuilder(typeof(System.Runtime.CompilerServices.PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask OnCapsuleAsync(CancellationToken ct)
    {
        var command = CapsuleCmdPdu.ReadCommand(_reader.Header);

        // The host may not have more commands outstanding than SQSIZE allows (NVMe/TCP flow control).
        var ctx = _slots.Rent() ?? throw PduException.Sequence($"command {command.CommandId} exceeds the {_slots.Limit} submission slots of queue {_qid}");
        ctx.Start(command, _registry.Time.GetTimestamp());
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
                var digestOk = await _reader.ReadDataAsync(ctx.NextData(inCapsule), ct).ConfigureAwait(false);
                ctx.DataArrived(inCapsule, digestOk);
                if (!digestOk)
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

        if (status.IsSuccess)
        {
            status = _commands.Admit(ctx);
        }

        if (!status.IsSuccess)
        {
            _commands.Complete(ctx, status);
            return;
        }

        // I/O data buffers come from the connection's and the process's budgets: when one is spent the command waits
        // (its R2T or its read is delayed) and this loop goes on reading, so the H2CData that frees them arrives.
        // Admin (and pre-Connect) commands keep running in order on this loop: their few, small buffers are rented
        // directly (at most the admin SQSIZE of them), so no admin command ever runs beside another.
        if (ctx.NeedsBuffer)
        {
            if (_qid == 0)
            {
                ctx.RentBuffer(ctx.TransferLength, ctx.DataFollowsCapsule);
            }
            else if (!_buffers.TryStart(ctx))
            {
                return;
            }
        }

        if (ctx.DataFollowsCapsule)
        {
            _slots.MarkDataPhase(ctx, _registry.Time.GetTimestamp());
            ctx.SetState(CommandState.AwaitingData);
            Post(SendItem.R2T(ctx));
            return;
        }

        ExecuteInBurst(ctx);
    }

    /// <summary>A parked command got its buffer (thread pool): send its R2T or run it, unless the connection closed meanwhile.</summary>
    private void StartWithBuffer(CommandContext ctx)
    {
        if (!ctx.DataFollowsCapsule)
        {
            _commands.TryExecute(ctx);
            return;
        }

        _slots.MarkDataPhase(ctx, _registry.Time.GetTimestamp());
        if (ctx.TrySetState(CommandState.Receiving, CommandState.AwaitingData) && !Post(SendItem.R2T(ctx)))
        {
            _slots.Release(ctx); // the connection is closing
        }
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

            ctx.RentBuffer(inCapsule, dataFollowsCapsule: false);
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

        ctx.SetTransfer((int)length, dataFollowsCapsule: direction == DataDirection.HostToController);
        return NvmeStatus.Success;
    }

    private static NvmeStatus Dnr(ushort code) => CommandExecutor.Dnr(code);

    /// <summary>H2CData for an outstanding R2T. Reference §1.7 (windows checked as the Linux target does).</summary>
    [System.Runtime.CompilerServices.AsyncMethodBuilder(typeof(System.Runtime.CompilerServices.PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask OnH2CDataAsync(CancellationToken ct)
    {
        var pdu = H2CDataPdu.Read(_reader.Header);
        var ctx = _slots.Find(pdu.TransferTag);

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

        var length = _reader.DataLength;
        var digestOk = await _reader.ReadDataAsync(ctx.NextData(length), ct).ConfigureAwait(false);
        ctx.DataArrived(length, digestOk);
        if (!digestOk)
        {
            Interlocked.Increment(ref _registry.Counters.DataDigestErrors);
            Log.DataDigestError(_logger, RemoteEndPoint, pdu.CommandId);
        }

        if (ctx.AllDataReceived)
        {
            _buffers.DataComplete();
            if (ctx.DataDigestError)
            {
                _commands.Complete(ctx, new NvmeStatus(NvmeStatusCodes.TransientTransportError));
                return;
            }

            ExecuteInBurst(ctx);
        }
    }
}
