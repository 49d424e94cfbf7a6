namespace NvmeMptls.Transport.Sockets;

/// <summary>Buffering of one socket connection. The pause thresholds are the back-pressure points.</summary>
public sealed record SocketConnectionOptions
{
    public static SocketConnectionOptions Default { get; } = new();

    /// <summary>Bytes received but not yet read by the application at which the receive loop stops reading the socket.</summary>
    public long InputPauseThreshold { get; init; } = 1 << 20;
    public long InputResumeThreshold { get; init; } = 1 << 19;
    /// <summary>Bytes written by the application but not yet sent at which Output.FlushAsync waits.</summary>
    public long OutputPauseThreshold { get; init; } = 1 << 20;
    public long OutputResumeThreshold { get; init; } = 1 << 19;
    /// <summary>Smallest buffer handed to one receive call.</summary>
    public int MinReceiveSize { get; init; } = 16 * 1024;
    /// <summary>How long DisposeAsync waits for unsent bytes to leave before it aborts the connection.</summary>
    public TimeSpan DisposeFlushTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Throws naming the first bad key.</summary>
    public SocketConnectionOptions Validate()
    {
        if (InputPauseThreshold <= 0 || InputResumeThreshold <= 0 || InputResumeThreshold > InputPauseThreshold)
            throw new ArgumentException($"{nameof(InputResumeThreshold)} ({InputResumeThreshold}) must be > 0 and <= {nameof(InputPauseThreshold)} ({InputPauseThreshold})");
        if (OutputPauseThreshold <= 0 || OutputResumeThreshold <= 0 || OutputResumeThreshold > OutputPauseThreshold)
            throw new ArgumentException($"{nameof(OutputResumeThreshold)} ({OutputResumeThreshold}) must be > 0 and <= {nameof(OutputPauseThreshold)} ({OutputPauseThreshold})");
        if (MinReceiveSize is < 1 or > 1 << 20)
            throw new ArgumentException($"{nameof(MinReceiveSize)} must be 1..1048576, not {MinReceiveSize}");
        if (DisposeFlushTimeout < TimeSpan.Zero)
            throw new ArgumentException($"{nameof(DisposeFlushTimeout)} must not be negative");
        return this;
    }
}
