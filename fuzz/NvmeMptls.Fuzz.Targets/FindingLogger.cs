using Microsoft.Extensions.Logging;

namespace NvmeMptls.Fuzz;

/// <summary>
/// A logger for code whose catch-all turns an unexpected exception into a log line (a connection "failed"): it
/// keeps the first warning or error that carries an exception other than an I/O error or a cancellation, so the
/// target can rethrow it as a finding instead of letting the catch-all hide it.
/// </summary>
internal sealed class FindingLogger : ILogger
{
    private Exception? _finding;

    public IDisposable? BeginScope<TState>(TState state)
        where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Warning;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        if (logLevel >= LogLevel.Warning && exception is not (null or IOException or OperationCanceledException))
        {
            Interlocked.CompareExchange(ref _finding, new FuzzFindingException($"{eventId.Id} {formatter(state, exception)}", exception), null);
        }
    }

    public void ThrowIfAny()
    {
        if (_finding is { } finding)
        {
            throw finding;
        }
    }
}

/// <summary>An exception the code under test caught and logged as a failure, surfaced for the fuzzer.</summary>
public sealed class FuzzFindingException(string message, Exception inner) : Exception(message, inner);
