namespace NvmeMptls.Transport.Connections;

/// <summary>
/// Told when memory given to <see cref="StreamConnection.SpliceOutput"/> may be reused: one call per splice, with the
/// splice's token. Called from the connection's send loop (or from the splicing call when the connection already ended),
/// so it must be quick and must not block.
/// </summary>
public interface IOutputSpliceCompletion
{
    /// <param name="token">What the splice was queued with.</param>
    /// <param name="sent">True when the kernel took the bytes; false when the connection ended first.</param>
    void OnSpliceCompleted(object? token, bool sent);
}
