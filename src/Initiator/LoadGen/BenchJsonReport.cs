using System.Globalization;
using System.Text;
using System.Text.Json;

namespace NvmeMptls.Initiator.LoadGen;

/// <summary>
/// fio's <c>--output-format=json</c> layout and field names, so scripts that read fio's JSON read ours:
/// <c>jobs[].read.{io_bytes, bw_bytes, bw (KiB/s), iops, runtime (ms), total_ios, clat_ns, lat_ns}</c>.
/// There is no separate submission step, so <c>slat_ns</c> is zero and <c>lat_ns</c> equals <c>clat_ns</c>.
/// Our own figures (verification, allocation) sit under <c>nvme-mptls</c> keys fio does not use.
/// </summary>
internal static class BenchJsonReport
{
    public const string FioVersion = "fio-3.33 (nvme-mptls bench)";

    public static string Write(BenchReport report)
    {
        using var stream = new MemoryStream();
        using (var json = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true }))
        {
            json.WriteStartObject();
            json.WriteString("fio version", FioVersion);
            json.WriteNumber("timestamp", report.Timestamp.ToUnixTimeSeconds());
            json.WriteNumber("timestamp_ms", report.Timestamp.ToUnixTimeMilliseconds());
            json.WriteString("time", report.Timestamp.ToString("ddd MMM d HH:mm:ss yyyy", CultureInfo.InvariantCulture));
            json.WriteStartArray("jobs");
            foreach (var job in report.Jobs)
            {
                Job(json, job);
            }

            json.WriteEndArray();
            json.WriteStartObject("nvme-mptls");
            json.WriteNumber("allocated_bytes", report.AllocatedBytes);
            json.WriteNumber("allocation_window_ios", report.AllocationWindowIos);
            json.WriteNumber("allocated_bytes_per_io", Math.Round(report.AllocatedBytesPerIo, 3));
            json.WriteNumber("cpu_seconds", Math.Round(report.WindowCpuTime.TotalSeconds, 6));
            json.WriteNumber("cpu_us_per_io", Math.Round(report.CpuMicrosPerIo, 3));
            json.WriteStartArray("notes");
            foreach (var note in report.Notes)
            {
                json.WriteStringValue(note);
            }

            json.WriteEndArray();
            json.WriteEndObject();
            json.WriteEndObject();
        }

        return Encoding.UTF8.GetString(stream.ToArray());
    }

    private static void Job(Utf8JsonWriter json, BenchJobResult job)
    {
        json.WriteStartObject();
        json.WriteString("jobname", job.Name);
        json.WriteNumber("groupid", 0);
        json.WriteNumber("error", job.Error);
        json.WriteNumber("eta", 0);
        json.WriteNumber("elapsed", (long)Math.Ceiling(job.Runtime.TotalSeconds));
        json.WriteStartObject("job options");
        json.WriteString("rw", job.Job.RwName);
        json.WriteString("bs", job.Job.BlockSize.ToString(CultureInfo.InvariantCulture));
        json.WriteString("iodepth", job.Job.IoDepth.ToString(CultureInfo.InvariantCulture));
        json.WriteString("numjobs", job.Job.NumJobs.ToString(CultureInfo.InvariantCulture));
        if (job.Job.Verify == BenchVerify.Crc32c)
        {
            json.WriteString("verify", "crc32c");
        }

        json.WriteEndObject();
        Direction(json, "read", job.Read);
        Direction(json, "write", job.Write);
        Empty(json, "trim");
        json.WriteStartObject("sync");
        json.WriteNumber("total_ios", 0);
        LatencyBlock(json, "lat_ns", null);
        json.WriteEndObject();
        json.WriteNumber("job_runtime", (long)job.Runtime.TotalMilliseconds);
        json.WriteNumber("total_err", job.IoErrors + job.VerifyErrors);
        json.WriteNumber("first_error", job.Error);
        json.WriteStartObject("nvme-mptls");
        json.WriteNumber("clones", job.Clones);
        json.WriteNumber("verified_blocks", job.VerifiedBlocks);
        json.WriteNumber("verify_errors", job.VerifyErrors);
        json.WriteNumber("verify_reads", job.VerifyReads);
        json.WriteNumber("unwritten_blocks", job.UnwrittenBlocks);
        json.WriteStartArray("failures");
        foreach (var (offset, reason) in job.Failures)
        {
            json.WriteStartObject();
            json.WriteNumber("offset", offset);
            json.WriteString("reason", reason);
            json.WriteEndObject();
        }

        json.WriteEndArray();
        json.WriteEndObject();
        json.WriteEndObject();
    }

    private static void Direction(Utf8JsonWriter json, string name, BenchDirectionResult d)
    {
        json.WriteStartObject(name);
        json.WriteNumber("io_bytes", d.Bytes);
        json.WriteNumber("io_kbytes", d.Bytes / 1024);
        json.WriteNumber("bw_bytes", (long)d.BandwidthBytes);
        json.WriteNumber("bw", (long)(d.BandwidthBytes / 1024));
        json.WriteNumber("iops", Math.Round(d.Iops, 6));
        json.WriteNumber("runtime", d.Ios == 0 ? 0 : (long)d.Runtime.TotalMilliseconds);
        json.WriteNumber("total_ios", d.Ios);
        json.WriteNumber("short_ios", 0);
        json.WriteNumber("drop_ios", 0);
        json.WriteNumber("errors", d.Errors);
        LatencyBlock(json, "slat_ns", null);
        LatencyBlock(json, "clat_ns", d, percentiles: true);
        LatencyBlock(json, "lat_ns", d);
        json.WriteEndObject();
    }

    private static void Empty(Utf8JsonWriter json, string name)
    {
        json.WriteStartObject(name);
        json.WriteNumber("io_bytes", 0);
        json.WriteNumber("io_kbytes", 0);
        json.WriteNumber("bw_bytes", 0);
        json.WriteNumber("bw", 0);
        json.WriteNumber("iops", 0.0);
        json.WriteNumber("runtime", 0);
        json.WriteNumber("total_ios", 0);
        json.WriteNumber("short_ios", 0);
        json.WriteNumber("drop_ios", 0);
        LatencyBlock(json, "slat_ns", null);
        LatencyBlock(json, "clat_ns", null);
        LatencyBlock(json, "lat_ns", null);
        json.WriteEndObject();
    }

    private static void LatencyBlock(Utf8JsonWriter json, string name, BenchDirectionResult? d, bool percentiles = false)
    {
        json.WriteStartObject(name);
        var any = d is { Ios: > 0 };
        json.WriteNumber("min", any ? d!.MinNs : 0);
        json.WriteNumber("max", any ? d!.MaxNs : 0);
        json.WriteNumber("mean", any ? Math.Round(d!.MeanNs, 6) : 0.0);
        json.WriteNumber("stddev", any ? Math.Round(d!.StdDevNs, 6) : 0.0);
        json.WriteNumber("N", any ? d!.Ios : 0);
        if (percentiles && any)
        {
            json.WriteStartObject("percentile");
            foreach (var p in BenchDirectionResult.Percentiles)
            {
                json.WriteNumber(p.ToString("F6", CultureInfo.InvariantCulture), d!.PercentileNs(p));
            }

            json.WriteEndObject();
        }

        json.WriteEndObject();
    }
}
