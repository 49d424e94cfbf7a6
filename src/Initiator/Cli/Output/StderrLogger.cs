using Microsoft.Extensions.Logging;

namespace NvmeMptls.Cli.Output;

/// <summary>A minimal logger for <c>--verbose</c>: one line per message on stderr.</summary>
public sealed class StderrLogger(TextWriter error, LogLevel minimum) : ILogger
{
    // One lock for every category's logger, as they share the writer (a TextWriter is a weak-identity lock).
    private static readonly Lock WriteLock = new();

    public IDisposable? BeginScope<TState>(TState state)
        where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => logLevel >= minimum;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        if (IsEnabled(logLevel))
        {
            lock (WriteLock)
            {
                error.WriteLine($"[{logLevel}] {formatter(state, exception)}");
            }
        }
    }
}
