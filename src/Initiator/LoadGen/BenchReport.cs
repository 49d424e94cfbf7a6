using HdrHistogram;

namespace NvmeMptls.Initiator.LoadGen;

/// <summary>Latency and throughput of one direction of one reported job. Latencies are nanoseconds.</summary>
public sealed class BenchDirectionResult
{
    internal BenchDirectionResult(LongHistogram latency, long ios, long bytes, long errors, long minNs, long maxNs, TimeSpan runtime)
    {
        Latency = latency;
        Ios = ios;
        Bytes = bytes;
        Errors = errors;
        MinNs = ios == 0 ? 0 : minNs;
        MaxNs = maxNs;
        Runtime = runtime;
    }

    /// <summary>Percentiles fio prints by default.</summary>
    public static IReadOnlyList<double> Percentiles { get; } =
        [1, 5, 10, 20, 30, 40, 50, 60, 70, 80, 90, 95, 99, 99.5, 99.9, 99.95, 99.99];

    public LongHistogram Latency { get; }

    public long Ios { get; }

    public long Bytes { get; }

    public long Errors { get; }

    public long MinNs { get; }

    public long MaxNs { get; }

    public TimeSpan Runtime { get; }

    public double MeanNs => Ios == 0 ? 0 : Latency.GetMean();

    public double StdDevNs => Ios == 0 ? 0 : Latency.GetStdDeviation();

    public double Iops => Runtime.TotalSeconds <= 0 ? 0 : Ios / Runtime.TotalSeconds;

    public double BandwidthBytes => Runtime.TotalSeconds <= 0 ? 0 : Bytes / Runtime.TotalSeconds;

    /// <summary>Latency at <paramref name="percentile"/> (0..100), within the histogram's 3-digit precision.</summary>
    public long PercentileNs(double percentile) => Ios == 0 ? 0 : Latency.GetValueAtPercentile(percentile);
}

/// <summary>One entry of the report: a job clone, or all clones of a job with group_reporting.</summary>
public sealed class BenchJobResult
{
    public required string Name { get; init; }

    public required BenchJob Job { get; init; }

    public required int Clones { get; init; }

    public required BenchDirectionResult Read { get; init; }

    public required BenchDirectionResult Write { get; init; }

    /// <summary>fio's <c>error</c>: errno of the first failure (EIO 5 for NVMe errors, EILSEQ 84 for verify), 0 if none.</summary>
    public required int Error { get; init; }

    public required TimeSpan Runtime { get; init; }

    public long VerifiedBlocks { get; init; }

    public long VerifyErrors { get; init; }

    public long VerifyReads { get; init; }

    /// <summary>Blocks read with verify that this run never wrote and that carry no header: not checked.</summary>
    public long UnwrittenBlocks { get; init; }

    /// <summary>First failures (offset in bytes, reason), at most 16 per clone.</summary>
    public IReadOnlyList<(long Offset, string Reason)> Failures { get; init; } = [];

    public long IoErrors => Read.Errors + Write.Errors;
}

/// <summary>What <see cref="BenchRunner"/> measured; <see cref="ToText"/> and <see cref="ToJson"/> print it like fio.</summary>
public sealed class BenchReport
{
    public required IReadOnlyList<BenchJobResult> Jobs { get; init; }

    public required DateTimeOffset Timestamp { get; init; }

    /// <summary>Managed bytes allocated by the whole process while every job was in its measured phase.</summary>
    public long AllocatedBytes { get; init; }

    /// <summary>I/Os completed in the same window as <see cref="AllocatedBytes"/>.</summary>
    public long AllocationWindowIos { get; init; }

    public double AllocatedBytesPerIo => AllocationWindowIos == 0 ? 0 : (double)AllocatedBytes / AllocationWindowIos;

    /// <summary>CPU time (user + system) of the whole process in the same window as <see cref="AllocatedBytes"/>.</summary>
    public TimeSpan WindowCpuTime { get; init; }

    /// <summary>CPU microseconds the load generator spent per I/O (the whole process, every thread).</summary>
    public double CpuMicrosPerIo => AllocationWindowIos == 0 ? 0 : WindowCpuTime.TotalMicroseconds / AllocationWindowIos;

    public IReadOnlyList<string> Notes { get; init; } = [];

    public long TotalErrors
    {
        get
        {
            long total = 0;
            foreach (var job in Jobs)
            {
                total += job.IoErrors + job.VerifyErrors;
            }

            return total;
        }
    }

    public string ToText() => BenchTextReport.Write(this);

    public string ToJson() => BenchJsonReport.Write(this);
}
