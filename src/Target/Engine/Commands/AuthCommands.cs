using NvmeMptls.Target.Auth;
using NvmeMptls.Transport.Nvme;
using NvmeMptls.Transport.Nvme.Auth;

namespace NvmeMptls.Target.Commands;

/// <summary>
/// Fabrics Authentication Send (05h) and Receive (06h) on one queue: checks the SQE the way the kernel target does
/// (nvmet_execute_auth_send/receive) and hands the message to the queue's <see cref="AuthTransaction"/>. Reference §2.8.
/// </summary>
internal sealed class AuthCommands(CommandExecutor executor)
{
    private readonly CommandExecutor _executor = executor;

    public void Execute(CommandContext ctx, AuthTransaction? transaction)
    {
        var command = AuthCommand.Read(ctx.Command);
        // Reference §2.8: SECP E9h, SPSP0 and SPSP1 01h, and a non-zero TL/AL, else Invalid Field in Command.
        if (command.InvalidFieldOffset() >= 0)
        {
            _executor.Complete(ctx, CommandExecutor.Dnr(NvmeStatusCodes.InvalidField));
            return;
        }
        // Only a queue whose Connect returned ATR has a transaction to run.
        if (transaction is null)
        {
            _executor.Complete(ctx, CommandExecutor.Dnr(NvmeStatusCodes.CommandSequenceError));
            return;
        }
        // The data must be exactly TL/AL bytes (kernel nvmet_check_transfer_len).
        if ((uint)ctx.TransferLength != command.Length)
        {
            _executor.Complete(ctx, CommandExecutor.Dnr(NvmeStatusCodes.SglInvalidDataLength));
            return;
        }

        if (command.IsSend)
        {
            transaction.OnSend(ctx.Data);
            _executor.Complete(ctx, NvmeStatus.Success);
            return;
        }

        // Like the kernel target, answer all AL bytes, the message first and zeros after it.
        var data = ctx.Data;
        data.Clear();
        if (transaction.Respond(data) < 0)
        {
            _executor.Complete(ctx, CommandExecutor.Dnr(NvmeStatusCodes.InvalidField));
            return;
        }
        _executor.Complete(ctx, NvmeStatus.Success, dataLength: data.Length);
    }
}
