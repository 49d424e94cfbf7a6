using HdrHistogram;

namespace NvmeMptls.Initiator.LoadGen;

/// <summary>
/// Counters and the latency histogram of one direction of one job clone, written concurrently by its
/// <c>iodepth</c> workers without locks. Latencies are nanoseconds, 3 significant digits, up to one hour.
/// </summary>
internal sealed class BenchRecorder
{
    public const long HighestNs = 3_600_000_000_000;

    private long _ios;
    private long _bytes;
    private long _errors;
    private long _min = long.MaxValue;
    private long _max;

    public LongConcurrentHistogram Latency { get; } = new(1, 1, HighestNs, 3);

    public long Ios => Interlocked.Read(ref _ios);

    public long Bytes => Interlocked.Read(ref _bytes);

    public long Errors => Interlocked.Read(ref _errors);

    public long MinNs => Interlocked.Read(ref _min);

    public long MaxNs => Interlocked.Read(ref _max);

    public void Record(long nanoseconds, int bytes)
    {
        var value = Math.Clamp(nanoseconds, 1, HighestNs);
        Latency.RecordValue(value);
        Interlocked.Increment(ref _ios);
        Interlocked.Add(ref _bytes, bytes);
        var min = Interlocked.Read(ref _min);
        while (value < min)
        {
            var seen = Interlocked.CompareExchange(ref _min, value, min);
            if (seen == min)
            {
                break;
            }

            min = seen;
        }

        var max = Interlocked.Read(ref _max);
        while (value > max)
        {
            var seen = Interlocked.CompareExchange(ref _max, value, max);
            if (seen == max)
            {
                break;
            }

            max = seen;
        }
    }

    public void RecordError() => Interlocked.Increment(ref _errors);
}
