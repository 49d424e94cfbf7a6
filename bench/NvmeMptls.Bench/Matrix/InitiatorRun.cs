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
        var args = new List<string>();
        if (cpu is { } c)
        {
            args.AddRange(["-c", c.ToString(CultureInfo.InvariantCulture), "dotnet"]);
        }

        args.AddRange([cliDll, "bench", "-a", "127.0.0.1", "-s", target.Port.ToString(CultureInfo.InvariantCulture), "-n", TargetProcess.Nqn,
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

        var before = await target.SampleAsync().ConfigureAwait(false);
        var (exit, stdout, stderr) = await RunAsync(cpu is null ? "dotnet" : "taskset", args).ConfigureAwait(false);
        var after = await target.SampleAsync().ConfigureAwait(false);
        if (exit != 0 && exit != 1)
        {
            throw new InvalidOperationException($"nvme-mptls bench {cell.Name} over {carrier.Name} exited {exit}: {stderr.Trim()}");
        }

        using var json = JsonDocument.Parse(stdout);
        var job = json.RootElement.GetProperty("jobs")[0];
        var direction = job.GetProperty(cell.Rw.Contains("write", StringComparison.Ordinal) ? "write" : "read");
        var ios = direction.GetProperty("total_ios").GetDouble();
        var percentiles = direction.GetProperty("clat_ns").GetProperty("percentile");
        var ours = json.RootElement.GetProperty("nvme-mptls");
        var perIo = ios == 0 ? 0 : 1.0 / ios;
        return new MatrixResult(
            carrier,
            cell,
            direction.GetProperty("iops").GetDouble(),
            direction.GetProperty("bw_bytes").GetDouble() / (1 << 20),
            percentiles.GetProperty("50.000000").GetDouble() / 1000,
            percentiles.GetProperty("99.000000").GetDouble() / 1000,
            (after.CpuSeconds - before.CpuSeconds) * 1e6 * perIo,
            ours.GetProperty("cpu_us_per_io").GetDouble(),
            (after.AllocatedBytes - before.AllocatedBytes) * perIo,
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
