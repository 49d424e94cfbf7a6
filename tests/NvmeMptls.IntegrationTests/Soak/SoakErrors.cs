using System.Globalization;

namespace NvmeMptls.IntegrationTests.Soak;

/// <summary>
/// What went wrong during a soak, and when the faults were injected. An I/O error is explained when it happened
/// inside (or within <see cref="Grace"/> after) a fault window and the application's retry of that I/O then
/// succeeded; everything else (an error outside any window, a retry that failed too, a hang) is unexplained.
/// Data mismatches and lost durable writes are never explained.
/// </summary>
internal sealed class SoakErrors
{
    /// <summary>How long after a fault ends an error is still put down to it (command timeout 30 s + reconnect).</summary>
    public static readonly TimeSpan Grace = TimeSpan.FromSeconds(40);

    private readonly Lock _gate = new();
    private readonly List<Entry> _errors = [];
    private readonly List<Window> _windows = [];
    private readonly List<string> _mismatchSamples = [];

    public long Mismatches;
    public long LostWrites;

    public IReadOnlyList<string> MismatchSamples
    {
        get
        {
            lock (_gate)
            {
                return [.. _mismatchSamples];
            }
        }
    }

    public int Error(int initiator, string op, string message, bool hang)
    {
        lock (_gate)
        {
            _errors.Add(new Entry(DateTime.UtcNow, initiator, op, message, hang));
            return _errors.Count - 1;
        }
    }

    public void MarkRecovered(int index)
    {
        lock (_gate)
        {
            _errors[index] = _errors[index] with { Recovered = true };
        }
    }

    public void Mismatch(bool durable, string text)
    {
        Interlocked.Increment(ref durable ? ref LostWrites : ref Mismatches);
        lock (_gate)
        {
            if (_mismatchSamples.Count < 20)
            {
                _mismatchSamples.Add((durable ? "LOST durable write: " : "mismatch: ") + text);
            }
        }
    }

    /// <summary>Records that a fault of <paramref name="kind"/> was in effect from <paramref name="start"/> to now.</summary>
    public void Fault(string kind, DateTime start)
    {
        lock (_gate)
        {
            _windows.Add(new Window(kind, start, DateTime.UtcNow));
        }
    }

    public int ErrorCount
    {
        get
        {
            lock (_gate)
            {
                return _errors.Count;
            }
        }
    }

    /// <summary>Explained errors counted by the fault kind they fell in, and the unexplained ones spelled out.</summary>
    public (SortedDictionary<string, int> Explained, List<string> Unexplained) Classify()
    {
        var explained = new SortedDictionary<string, int>(StringComparer.Ordinal);
        var unexplained = new List<string>();
        lock (_gate)
        {
            foreach (var e in _errors)
            {
                var window = _windows.FirstOrDefault(w => e.At >= w.Start - TimeSpan.FromSeconds(1) && e.At <= w.End + Grace);
                var at = e.At.ToString("HH:mm:ss.fff", CultureInfo.InvariantCulture);
                if (e.Hang)
                {
                    unexplained.Add($"{at} initiator {e.Initiator} {e.Op}: {e.Message}");
                }
                else if (window is null)
                {
                    unexplained.Add($"{at} initiator {e.Initiator} {e.Op}: {e.Message} (outside every fault window{(e.Recovered ? ", retry succeeded" : "")})");
                }
                else if (!e.Recovered)
                {
                    unexplained.Add($"{at} initiator {e.Initiator} {e.Op}: {e.Message} (during {window.Kind}, but the retry failed too)");
                }
                else
                {
                    explained[window.Kind] = explained.GetValueOrDefault(window.Kind) + 1;
                }
            }
        }

        return (explained, unexplained);
    }

    /// <summary>Fault windows as "kind start-end" lines, for the log of a failed run.</summary>
    public string Timeline()
    {
        lock (_gate)
        {
            return string.Join('\n', _windows.Select(w => string.Create(CultureInfo.InvariantCulture,
                $"{w.Start:HH:mm:ss.fff}-{w.End:HH:mm:ss.fff} {w.Kind}")));
        }
    }

    private sealed record Entry(DateTime At, int Initiator, string Op, string Message, bool Hang)
    {
        public bool Recovered { get; init; }
    }

    private sealed record Window(string Kind, DateTime Start, DateTime End);
}
