using System.Globalization;
using System.Text;

namespace NvmeMptls.Initiator.LoadGen;

/// <summary>fio's "normal" output: per-job blocks with IOPS, bandwidth, latency and percentiles, then a group summary.</summary>
internal static class BenchTextReport
{
    private static readonly CultureInfo s_inv = CultureInfo.InvariantCulture;

    public static string Write(BenchReport report)
    {
        var text = new StringBuilder();
        foreach (var job in report.Jobs)
        {
            text.Append(s_inv, $"{job.Name}: (groupid=0, jobs={job.Clones}): err={job.Error,2}: pid={Environment.ProcessId}: {report.Timestamp:ddd MMM d HH:mm:ss yyyy}\n");
            Direction(text, "read", job.Read);
            Direction(text, "write", job.Write);
            if (job.Job.Verify != BenchVerify.None)
            {
                text.Append(s_inv, $"  verify: crc32c verified={job.VerifiedBlocks}, errors={job.VerifyErrors}, read-back={job.VerifyReads}, unwritten={job.UnwrittenBlocks}\n");
            }

            foreach (var (offset, reason) in job.Failures)
            {
                text.Append(s_inv, $"  error: offset={offset} (0x{offset:x}): {reason}\n");
            }

            text.Append(s_inv, $"  errors: io={job.IoErrors}, verify={job.VerifyErrors}\n");
            text.Append(s_inv, $"  IO depths: {job.Job.IoDepth}, bs={job.Job.BlockSize}, rw={job.Job.RwName}\n");
            foreach (var note in job.Job.Notes)
            {
                text.Append("  note: ").Append(note).Append('\n');
            }
        }

        text.Append("\nRun status group 0 (all jobs):\n");
        Summary(text, "READ", report, static j => j.Read);
        Summary(text, "WRITE", report, static j => j.Write);
        text.Append(s_inv, $"\nAllocated: {report.AllocatedBytes} bytes over {report.AllocationWindowIos} I/Os = {report.AllocatedBytesPerIo:F2} bytes/IO; CPU {report.WindowCpuTime.TotalSeconds:F3} s = {report.CpuMicrosPerIo:F2} µs/IO\n");
        foreach (var note in report.Notes)
        {
            text.Append("note: ").Append(note).Append('\n');
        }

        return text.ToString();
    }

    private static void Direction(StringBuilder text, string name, BenchDirectionResult d)
    {
        if (d.Ios == 0 && d.Errors == 0)
        {
            return;
        }

        var ms = (long)d.Runtime.TotalMilliseconds;
        text.Append(s_inv, $"  {name}: IOPS={Count(d.Iops)}, BW={Binary(d.BandwidthBytes)}/s ({Decimal(d.BandwidthBytes)}/s)({Binary(d.Bytes)}/{ms}msec)\n");
        var (unit, divisor) = Unit(d.MaxNs);
        text.Append(s_inv, $"    clat ({unit}): min={d.MinNs / divisor:0.##}, max={d.MaxNs / divisor:0.##}, avg={d.MeanNs / divisor:F2}, stdev={d.StdDevNs / divisor:F2}\n");
        text.Append(s_inv, $"     lat ({unit}): min={d.MinNs / divisor:0.##}, max={d.MaxNs / divisor:0.##}, avg={d.MeanNs / divisor:F2}, stdev={d.StdDevNs / divisor:F2}\n");
        text.Append(s_inv, $"    clat percentiles ({unit}):\n");
        var percentiles = BenchDirectionResult.Percentiles;
        for (var i = 0; i < percentiles.Count; i++)
        {
            text.Append(i % 4 == 0 ? "     | " : " ");
            text.Append(s_inv, $"{percentiles[i],5:F2}th=[{d.PercentileNs(percentiles[i]) / divisor,7:0.##}]");
            text.Append(i % 4 == 3 || i == percentiles.Count - 1 ? ",\n" : ",");
        }

        if (d.Errors > 0)
        {
            text.Append(s_inv, $"    errors: {d.Errors}\n");
        }
    }

    private static void Summary(StringBuilder text, string name, BenchReport report, Func<BenchJobResult, BenchDirectionResult> pick)
    {
        long bytes = 0;
        double bandwidth = 0;
        var minMs = long.MaxValue;
        long maxMs = 0;
        foreach (var job in report.Jobs)
        {
            var d = pick(job);
            if (d.Ios == 0)
            {
                continue;
            }

            bytes += d.Bytes;
            bandwidth += d.BandwidthBytes;
            var ms = (long)d.Runtime.TotalMilliseconds;
            minMs = Math.Min(minMs, ms);
            maxMs = Math.Max(maxMs, ms);
        }

        if (bytes > 0)
        {
            text.Append(s_inv, $"   {name}: bw={Binary(bandwidth)}/s ({Decimal(bandwidth)}/s), io={Binary(bytes)} ({Decimal(bytes)}), run={minMs}-{maxMs}msec\n");
        }
    }

    private static (string Unit, double Divisor) Unit(long maxNs) => maxNs switch
    {
        < 10_000 => ("nsec", 1),
        < 10_000_000 => ("usec", 1_000),
        _ => ("msec", 1_000_000),
    };

    private static string Count(double value) => value switch
    {
        >= 1e6 => (value / 1e6).ToString("0.##", s_inv) + "M",
        >= 1e3 => (value / 1e3).ToString("0.#", s_inv) + "k",
        _ => value.ToString("0", s_inv),
    };

    private static string Binary(double bytes) => bytes switch
    {
        >= 1L << 30 => (bytes / (1L << 30)).ToString("0.##", s_inv) + "GiB",
        >= 1L << 20 => (bytes / (1L << 20)).ToString("0.##", s_inv) + "MiB",
        >= 1L << 10 => (bytes / (1L << 10)).ToString("0.##", s_inv) + "KiB",
        _ => bytes.ToString("0", s_inv) + "B",
    };

    private static string Decimal(double bytes) => bytes switch
    {
        >= 1e9 => (bytes / 1e9).ToString("0.##", s_inv) + "GB",
        >= 1e6 => (bytes / 1e6).ToString("0.##", s_inv) + "MB",
        >= 1e3 => (bytes / 1e3).ToString("0.##", s_inv) + "kB",
        _ => bytes.ToString("0", s_inv) + "B",
    };
}
