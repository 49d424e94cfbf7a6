using Microsoft.Extensions.Logging;

namespace NvmeMptls.Cli.Output;

/// <summary>A minimal logger for <c>--verbose</c>: one line per message on stderr.</summary>
public sealed class StderrLogger(TextWriter error, LogLevel minimum) : ILogger
{
    public IDisposable? BeginScope<TState>(TState state)
        where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => logLevel >= minimum;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        if (IsEnabled(logLevel))
        {
            lock (error)
            {
                error.WriteLine($"[{logLevel}] {formatter(state, exception)}");
            }
        }
    }
}
