using NvmeMptls.Initiator;

namespace NvmeMptls.Initiator.LoadGen;

/// <summary>
/// <c>nvme-mptls bench</c>: parses fio-style arguments and job files (<see cref="BenchJobParser.Parse"/>), runs them
/// and prints the report. The caller owns connecting: <paramref name="openDevice"/> gets each job (with its
/// <see cref="BenchJob.NrIoQueues"/>) and the clone index, and returns the device that clone drives.
/// Exit code: 0 clean, 1 when any I/O or verify error was counted, 2 for a job that cannot run.
/// </summary>
public static class BenchCommand
{
    public static async Task<int> RunAsync(
        IReadOnlyList<string> args,
        Func<BenchJob, int, ValueTask<INamespaceDevice>> openDevice,
        TextWriter output,
        TextWriter error,
        CancellationToken cancellationToken)
    {
        IReadOnlyList<BenchJob> jobs;
        try
        {
            jobs = BenchJobParser.Parse(args);
        }
        catch (Exception ex) when (ex is BenchJobException or IOException)
        {
            await error.WriteLineAsync("bench: " + ex.Message).ConfigureAwait(false);
            return 2;
        }

        try
        {
            var report = await BenchRunner.RunAsync(jobs, openDevice, output, cancellationToken).ConfigureAwait(false);
            return report.TotalErrors == 0 ? 0 : 1;
        }
        catch (BenchJobException ex)
        {
            await error.WriteLineAsync("bench: " + ex.Message).ConfigureAwait(false);
            return 2;
        }
    }
}
