using System.Globalization;
using Microsoft.Extensions.Logging;

namespace NvmeMptls.IntegrationTests.Soak;

/// <summary>
/// The client library's log of one soak initiator (information and above), kept as the last
/// <see cref="Capacity"/> lines with their time so a failed or stuck soak can show what the initiator saw.
/// </summary>
internal sealed class SoakClientLog(string name) : ILogger
{
    private const int Capacity = 300;
    private readonly Queue<string> _lines = new();
    private readonly Lock _gate = new();

    public string Tail()
    {
        lock (_gate)
        {
            return _lines.Count == 0 ? $"{name}: (nothing logged)" : string.Join('\n', _lines);
        }
    }

    public IDisposable? BeginScope<TState>(TState state)
        where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Information;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        if (!IsEnabled(logLevel))
        {
            return;
        }

        var line = string.Create(CultureInfo.InvariantCulture,
            $"  {DateTime.UtcNow:HH:mm:ss.fff} {name} {logLevel} [{eventId.Id}] {formatter(state, exception)}{(exception is null ? "" : " | " + exception.GetType().Name + ": " + exception.Message)}");
        lock (_gate)
        {
            if (_lines.Count == Capacity)
            {
                _lines.Dequeue();
            }

            _lines.Enqueue(line);
        }
    }
}
