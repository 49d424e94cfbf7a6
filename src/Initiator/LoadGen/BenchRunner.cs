using System.Globalization;
using HdrHistogram;
using NvmeMptls.Initiator;

namespace NvmeMptls.Initiator.LoadGen;

/// <summary>Where live progress goes and how often.</summary>
public sealed record BenchRunOptions
{
    /// <summary>Progress destination; null prints none.</summary>
    public TextWriter? Progress { get; init; }

    /// <summary>True: one line rewritten with <c>\r</c> (a terminal). False: a plain line per interval.</summary>
    public bool Interactive { get; init; }

    public TimeSpan ProgressInterval { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// What fio would do writing to <paramref name="output"/>: progress on the same writer for normal output
    /// (rewritten in place on a terminal), on stderr only when it is a terminal for JSON output.
    /// </summary>
    public static BenchRunOptions For(TextWriter output, BenchOutputFormat format)
    {
        if (format == BenchOutputFormat.Json)
        {
            return Console.IsErrorRedirected ? new BenchRunOptions() : new BenchRunOptions { Progress = Console.Error, Interactive = true };
        }

        var terminal = ReferenceEquals(output, Console.Out) && !Console.IsOutputRedirected;
        return new BenchRunOptions { Progress = output, Interactive = terminal };
    }
}

/// <summary>
/// Runs fio-like jobs against <see cref="INamespaceDevice"/>s. All jobs and their clones run at once (fio's
/// default without stonewall). Devices come from the caller (clone index as the second argument) and stay the
/// caller's to close. The final report is printed to the output in the first job's output format and returned.
/// </summary>
public static class BenchRunner
{
    public static Task<BenchReport> RunAsync(
        IReadOnlyList<BenchJob> jobs,
        Func<BenchJob, int, ValueTask<INamespaceDevice>> openDevice,
        TextWriter output,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(jobs);
        var format = jobs.Count > 0 ? jobs[0].OutputFormat : BenchOutputFormat.Normal;
        return RunAsync(jobs, openDevice, output, BenchRunOptions.For(output, format), cancellationToken);
    }

    public static async Task<BenchReport> RunAsync(
        IReadOnlyList<BenchJob> jobs,
        Func<BenchJob, int, ValueTask<INamespaceDevice>> openDevice,
        TextWriter output,
        BenchRunOptions options,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(jobs);
        ArgumentNullException.ThrowIfNull(openDevice);
        ArgumentNullException.ThrowIfNull(output);
        if (jobs.Count == 0)
        {
            throw new BenchJobException("no jobs to run");
        }

        var runs = new List<BenchJobRun>();
        for (var j = 0; j < jobs.Count; j++)
        {
            var job = jobs[j];
            job.Validate();
            BlockTracker? tracker = null;
            for (var clone = 0; clone < job.NumJobs; clone++)
            {
                var device = await openDevice(job, clone).ConfigureAwait(false);
                if (job.Verify != BenchVerify.None && tracker is null)
                {
                    var span = (job.Size > 0 ? job.Size : ((long)device.BlockCount * device.LbaSize) - job.Offset) + ((job.NumJobs - 1) * job.OffsetIncrement);
                    tracker = new BlockTracker(span / job.BlockSize);
                }

                runs.Add(new BenchJobRun(job, clone, (uint)((j << 16) | clone), device, tracker));
            }
        }

        var timestamp = DateTimeOffset.Now;
        var tasks = new Task[runs.Count];
        for (var i = 0; i < runs.Count; i++)
        {
            tasks[i] = runs[i].RunAsync(cancellationToken);
        }

        var all = Task.WhenAll(tasks);
        var firstDone = Task.WhenAny(tasks);
        var window = await MeasureAllocationsAsync(runs, jobs, firstDone, cancellationToken).ConfigureAwait(false);
        await ProgressAsync(runs, all, options).ConfigureAwait(false);
        await all.ConfigureAwait(false);

        var report = new BenchReport
        {
            Jobs = Collect(runs),
            Timestamp = timestamp,
            AllocatedBytes = window.Bytes,
            AllocationWindowIos = window.Ios,
            WindowCpuTime = window.Cpu,
            Notes = ["no submission stage: slat is 0 and lat equals clat"],
        };
        await output.WriteAsync(jobs[0].OutputFormat == BenchOutputFormat.Json ? report.ToJson() : report.ToText()).ConfigureAwait(false);
        await output.FlushAsync(cancellationToken).ConfigureAwait(false);
        return report;
    }

    /// <summary>
    /// Managed allocation and CPU time (user + system) of the whole process from the end of the longest ramp until
    /// the first clone finishes, and the I/Os completed in that window.
    /// </summary>
    private static async Task<(long Bytes, long Ios, TimeSpan Cpu)> MeasureAllocationsAsync(
        List<BenchJobRun> runs, IReadOnlyList<BenchJob> jobs, Task firstDone, CancellationToken cancellationToken)
    {
        var ramp = TimeSpan.Zero;
        foreach (var job in jobs)
        {
            ramp = job.RampTime > ramp ? job.RampTime : ramp;
        }

        // Let workers start and the JIT settle before counting.
        var settle = ramp > TimeSpan.Zero ? ramp : TimeSpan.FromMilliseconds(200);
        await Task.WhenAny(firstDone, Task.Delay(settle, cancellationToken)).ConfigureAwait(false);
        if (firstDone.IsCompleted)
        {
            return (0, 0, TimeSpan.Zero);
        }

        var iosBefore = CompletedIos(runs);
        var cpuBefore = Environment.CpuUsage.TotalTime;
        var bytesBefore = GC.GetTotalAllocatedBytes(precise: true);
        await firstDone.ConfigureAwait(false);
        var bytesAfter = GC.GetTotalAllocatedBytes(precise: true);
        var cpuAfter = Environment.CpuUsage.TotalTime;
        return (bytesAfter - bytesBefore, CompletedIos(runs) - iosBefore, cpuAfter - cpuBefore);
    }

    private static long CompletedIos(List<BenchJobRun> runs)
    {
        long total = 0;
        foreach (var run in runs)
        {
            total += run.CompletedIos;
        }

        return total;
    }

    private static async Task ProgressAsync(List<BenchJobRun> runs, Task all, BenchRunOptions options)
    {
        if (options.Progress is not { } progress)
        {
            return;
        }

        var started = DateTime.UtcNow;
        long lastIos = 0;
        long lastBytes = 0;
        var last = started;
        var printed = false;
        while (!all.IsCompleted)
        {
            await Task.WhenAny(all, Task.Delay(options.ProgressInterval)).ConfigureAwait(false);
            if (all.IsCompleted)
            {
                break;
            }

            var now = DateTime.UtcNow;
            long ios = 0;
            long bytes = 0;
            long errors = 0;
            var fraction = 1.0;
            var running = 0;
            foreach (var run in runs)
            {
                ios += run.CompletedIos;
                bytes += run.CompletedBytes;
                errors += run.Errors + run.VerifyErrors;
                running += run.Finished ? 0 : 1;
                fraction = Math.Min(fraction, Fraction(run, now - started));
            }

            var seconds = Math.Max((now - last).TotalSeconds, 1e-3);
            var elapsed = now - started;
            var eta = fraction > 0.001 ? TimeSpan.FromSeconds(elapsed.TotalSeconds * (1 - fraction) / fraction) : TimeSpan.Zero;
            var line = string.Create(
                CultureInfo.InvariantCulture,
                $"Jobs: {running} [{fraction * 100:F1}%][{(bytes - lastBytes) / seconds / (1 << 20):F1}MiB/s][{(ios - lastIos) / seconds:F0} IOPS][elapsed {elapsed:mm\\:ss}, eta {eta:mm\\:ss}][errors {errors}]");
            if (options.Interactive)
            {
                await progress.WriteAsync("\r" + line.PadRight(100)).ConfigureAwait(false);
            }
            else
            {
                await progress.WriteLineAsync(line).ConfigureAwait(false);
            }

            await progress.FlushAsync().ConfigureAwait(false);
            printed = true;
            lastIos = ios;
            lastBytes = bytes;
            last = now;
        }

        if (printed && options.Interactive)
        {
            await progress.WriteLineAsync().ConfigureAwait(false);
        }
    }

    private static double Fraction(BenchJobRun run, TimeSpan elapsed)
    {
        var job = run.Job;
        if (job.TimeBased && job.Runtime is { } runtime)
        {
            return Math.Clamp(elapsed / (runtime + job.RampTime), 0, 1);
        }

        var bySize = run.TotalBytes == 0 ? 1 : Math.Clamp((double)run.CompletedBytes / run.TotalBytes, 0, 1);
        return job.Runtime is { } limit ? Math.Max(bySize, Math.Clamp(elapsed / (limit + job.RampTime), 0, 1)) : bySize;
    }

    private static List<BenchJobResult> Collect(List<BenchJobRun> runs)
    {
        var results = new List<BenchJobResult>();
        var i = 0;
        while (i < runs.Count)
        {
            var job = runs[i].Job;
            var count = job.GroupReporting ? job.NumJobs : 1;
            results.Add(Merge(runs.GetRange(i, count)));
            i += count;
        }

        return results;
    }

    private static BenchJobResult Merge(List<BenchJobRun> group)
    {
        var first = group[0];
        var runtime = TimeSpan.Zero;
        var error = 0;
        long verified = 0, verifyErrors = 0, verifyReads = 0, unwritten = 0;
        var failures = new List<(long, string)>();
        foreach (var run in group)
        {
            runtime = run.MeasuredTime > runtime ? run.MeasuredTime : runtime;
            error = error == 0 ? run.FirstErrno : error;
            verified += run.Verified;
            verifyErrors += run.VerifyErrors;
            verifyReads += run.VerifyReads;
            unwritten += run.Unwritten;
            failures.AddRange(run.Failures);
        }

        return new BenchJobResult
        {
            Name = first.Job.Name,
            Job = first.Job,
            Clones = group.Count,
            Read = Direction(group, static r => r.Read, runtime),
            Write = Direction(group, static r => r.Write, runtime),
            Error = error,
            Runtime = runtime,
            VerifiedBlocks = verified,
            VerifyErrors = verifyErrors,
            VerifyReads = verifyReads,
            UnwrittenBlocks = unwritten,
            Failures = failures,
        };
    }

    private static BenchDirectionResult Direction(List<BenchJobRun> group, Func<BenchJobRun, BenchRecorder> pick, TimeSpan runtime)
    {
        var histogram = new LongHistogram(1, BenchRecorder.HighestNs, 3);
        long ios = 0, bytes = 0, errors = 0, min = long.MaxValue, max = 0;
        foreach (var run in group)
        {
            var recorder = pick(run);
            histogram.Add(recorder.Latency);
            ios += recorder.Ios;
            bytes += recorder.Bytes;
            errors += recorder.Errors;
            min = Math.Min(min, recorder.MinNs);
            max = Math.Max(max, recorder.MaxNs);
        }

        return new BenchDirectionResult(histogram, ios, bytes, errors, min, max, runtime);
    }
}
