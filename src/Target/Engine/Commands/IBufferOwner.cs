namespace NvmeMptls.Target.Commands;

/// <summary>Where a command's data buffer goes back to when its slot is released (its connection's budget).</summary>
internal interface IBufferOwner
{
    /// <summary>Takes back <paramref name="buffer"/>, which <paramref name="ctx"/> held.</summary>
    void ReturnBuffer(CommandContext ctx, byte[] buffer);
}
