using System.Diagnostics;
using System.Globalization;
using System.Text.Json;

namespace NvmeMptls.Bench.Matrix;

/// <summary>
/// One cell: <c>nvme-mptls bench</c> (the fio-like load generator) as its own process pinned to the other CPU, with
/// fio's JSON output; the target is sampled around it.
/// </summary>
public static class InitiatorRun
{
    public static async Task<MatrixResult> RunAsync(
        string cliDll, TargetProcess target, Carrier carrier, MatrixCell cell, string? tlsKey, int? cpu, int seconds, string size, bool timeBased = true)
    {
        // The target is sampled inside the load generator's measured window (after its connect and 1 s ramp, before
        // its end), so its CPU and allocation per command are steady-state figures, not the connect's and ramp's.
        var run = RunAsync(cliDll, target.Port, TargetProcess.Nqn, carrier, cell, tlsKey, cpu, seconds, size, timeBased);
        await Task.WhenAny(run, Task.Delay(TimeSpan.FromSeconds(2))).ConfigureAwait(false);
        var first = run.IsCompleted ? default : await target.SampleAsync().ConfigureAwait(false);
        var window = Stopwatch.StartNew();
        await Task.WhenAny(run, Task.Delay(TimeSpan.FromSeconds(Math.Max(0.5, seconds - 1.5)))).ConfigureAwait(false);
        var last = run.IsCompleted ? default : await target.SampleAsync().ConfigureAwait(false);
        var result = await run.ConfigureAwait(false);
        var commands = last.Commands - first.Commands;
        if (commands <= 0 || window.Elapsed.TotalSeconds < 0.5)
        {
            return result;
        }

        return result with
        {
            TargetCpuMicrosPerIo = (last.CpuSeconds - first.CpuSeconds) * 1e6 / commands,
            TargetBytesPerIo = (last.AllocatedBytes - first.AllocatedBytes) / commands,
        };
    }

    /// <summary>The load generator against any target (ours or SPDK's); the target-side columns stay 0.</summary>
    public static async Task<MatrixResult> RunAsync(
        string cliDll, int port, string nqn, Carrier carrier, MatrixCell cell, string? tlsKey, int? cpu, int seconds, string size, bool timeBased = true)
    {
        var args = new List<string>();
        if (cpu is { } c)
        {
            args.AddRange(["-c", c.ToString(CultureInfo.InvariantCulture), "dotnet"]);
        }

        args.AddRange([cliDll, "bench", "-a", "127.0.0.1", "-s", port.ToString(CultureInfo.InvariantCulture), "-n", nqn,
            "--multipath", carrier.Mptcp ? "required" : "disabled", "--name", "cell", "--rw", cell.Rw, "--bs", cell.BlockSize,
            "--iodepth", cell.IoDepth.ToString(CultureInfo.InvariantCulture), "--size", size, "--ramp_time", "1",
            "--runtime", seconds.ToString(CultureInfo.InvariantCulture), "--output-format", "json"]);
        if (timeBased)
        {
            args.Add("--time_based");
        }
        if (carrier.Tls)
        {
            args.AddRange(["--tls", "--tls-key", tlsKey!]);
        }
        if (cell.PollMicros > 0)
        {
            args.AddRange(["--poll-us", cell.PollMicros.ToString(CultureInfo.InvariantCulture)]);
        }

        var (exit, stdout, stderr) = await RunAsync(cpu is null ? "dotnet" : "taskset", args).ConfigureAwait(false);
        if (exit != 0 && exit != 1)
        {
            throw new InvalidOperationException($"nvme-mptls bench {cell.Name} over {carrier.Name} exited {exit}: {stderr.Trim()}");
        }

        using var json = JsonDocument.Parse(stdout);
        var job = json.RootElement.GetProperty("jobs")[0];
        var direction = job.GetProperty(cell.Rw.Contains("write", StringComparison.Ordinal) ? "write" : "read");
        var percentiles = direction.GetProperty("clat_ns").GetProperty("percentile");
        var ours = json.RootElement.GetProperty("nvme-mptls");
        return new MatrixResult(
            carrier,
            cell,
            direction.GetProperty("iops").GetDouble(),
            direction.GetProperty("bw_bytes").GetDouble() / (1 << 20),
            percentiles.GetProperty("50.000000").GetDouble() / 1000,
            percentiles.GetProperty("99.000000").GetDouble() / 1000,
            0,
            ours.GetProperty("cpu_us_per_io").GetDouble(),
            0,
            ours.GetProperty("allocated_bytes_per_io").GetDouble(),
            job.GetProperty("total_err").GetInt64());
    }

    /// <summary>Runs a program to its end and returns its exit code and output.</summary>
    public static async Task<(int Exit, string Stdout, string Stderr)> RunAsync(string program, IEnumerable<string> args, TimeSpan? timeout = null)
    {
        var psi = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }

        using var process = Process.Start(psi) ?? throw new InvalidOperationException($"could not start {program}");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(timeout ?? TimeSpan.FromMinutes(5));
        try
        {
            await process.WaitForExitAsync(cts.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{program} did not finish in time");
        }

        return (process.ExitCode, await stdout.ConfigureAwait(false), await stderr.ConfigureAwait(false));
    }
}
