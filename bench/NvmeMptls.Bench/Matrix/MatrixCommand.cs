using System.Globalization;
using System.Text;

namespace NvmeMptls.Bench.Matrix;

/// <summary>
/// <c>matrix</c>: the whole benchmark matrix in one command. The real target and the real load generator run as two
/// processes pinned to different CPUs (target on CPU 0, <c>nvme-mptls bench</c> on CPU 1) for every carrier
/// {TCP, MPTCP} × {plain, TLS} and cell (4 KiB randread QD1/QD32, randwrite QD32, 128 KiB read/write QD16), repeated
/// and interleaved; the machine's ceilings are measured in the same run. Writes a Markdown table and an SVG chart.
/// Usage: matrix [--seconds N] [--runs N] [--out DIR] [--carriers tcp,mptcp,tls/tcp,tls/mptcp]
/// </summary>
public static class MatrixCommand
{
    private const string TlsKey = "NVMeTLSkey-1:01:VRLbtnN9AQb2WXW3c9+wEf/DRLz0QuLdbYvEhwtdWwNf9LrZ:";
    private const string NamespaceSize = "1GiB";

    public static async Task<int> RunAsync(string[] args)
    {
        var seconds = 10;
        var runs = 3;
        var outDir = Path.Combine(RepositoryRoot(), "bench", "results");
        var carriers = Carrier.All;
        for (var i = 1; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--seconds": seconds = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
                case "--runs": runs = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
                case "--out": outDir = args[++i]; break;
                case "--carriers":
                    var names = args[++i].Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
                    carriers = [.. Carrier.All.Where(c => names.Contains(c.Name))];
                    break;
                default:
                    await Console.Error.WriteLineAsync($"matrix: unknown option {args[i]}").ConfigureAwait(false);
                    return 2;
            }
        }

        var root = RepositoryRoot();
        var targetDll = Path.Combine(root, "src", "Target", "Service", "bin", "Release", "net10.0", "nvme-mptls-target.dll");
        var cliDll = Path.Combine(root, "src", "Initiator", "Cli", "bin", "Release", "net10.0", "nvme-mptls.dll");
        foreach (var dll in new[] { targetDll, cliDll })
        {
            if (!File.Exists(dll))
            {
                await Console.Error.WriteLineAsync($"matrix: {dll} is missing; build the solution in Release first").ConfigureAwait(false);
                return 2;
            }
        }

        // Pinned only when there are two CPUs or more: the target on CPU 0, the load generator on CPU 1.
        var pinned = Environment.ProcessorCount >= 2;
        int? targetCpu = pinned ? 0 : null;
        int? initiatorCpu = pinned ? 1 : null;
        var machine = $"{Environment.ProcessorCount} CPUs, {Environment.OSVersion.VersionString}, .NET {Environment.Version}; " +
            (pinned ? "target pinned to CPU 0, load generator to CPU 1 (taskset)" : "not pinned (one CPU)");
        Console.WriteLine($"# Benchmark matrix — {DateTimeOffset.UtcNow:yyyy-MM-dd HH:mm} UTC");
        Console.WriteLine($"{machine}; {seconds} s per cell, {runs} interleaved runs, 1 GiB memory namespace");

        var ceilings = await Ceilings.MeasureAsync(targetCpu, initiatorCpu).ConfigureAwait(false);
        ceilings = ceilings with { NullEngine = await Ceilings.NullEngineAsync(cliDll, initiatorCpu, seconds).ConfigureAwait(false) };
        var results = new List<MatrixResult>();
        for (var run = 1; run <= runs; run++)
        {
            foreach (var carrier in carriers)
            {
#pragma warning disable CA2000 // disposed in the finally below; the analyzer does not follow an awaited factory
                var target = await TargetProcess.StartAsync(targetDll, carrier, TlsKey, targetCpu, NamespaceSize).ConfigureAwait(false);
#pragma warning restore CA2000
                try
                {
                    await FillAsync(cliDll, target, carrier, TlsKey, initiatorCpu).ConfigureAwait(false);
                    foreach (var cell in MatrixCell.All)
                    {
                        var result = await InitiatorRun.RunAsync(cliDll, target, carrier, cell, TlsKey, initiatorCpu, seconds, NamespaceSize).ConfigureAwait(false);
                        results.Add(result);
                        await Console.Error.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
                            $"run {run} {carrier.Name,-9} {cell.Name,-22} {result.Iops,10:0} IOPS {result.MiBps,8:0} MiB/s p50 {result.P50Micros,7:0.0} µs  target {result.TargetCpuMicrosPerIo,6:0.00} µs/IO  initiator {result.InitiatorCpuMicrosPerIo,6:0.00} µs/IO")).ConfigureAwait(false);
                    }
                }
                finally
                {
                    await target.DisposeAsync().ConfigureAwait(false);
                }
            }
        }

        var spdkRows = new List<SpdkResult>();
        if (SpdkRows.Root is { } spdkRoot && carriers.Contains(Carrier.All[0]))
        {
            await RunSpdkAsync(spdkRoot, targetDll, cliDll, targetCpu, initiatorCpu, seconds, runs, spdkRows).ConfigureAwait(false);
            if (carriers.Any(c => c.Tls && !c.Mptcp))
            {
                await RunSpdkTlsAsync(spdkRoot, targetDll, cliDll, targetCpu, initiatorCpu, seconds, runs, spdkRows).ConfigureAwait(false);
            }
        }

        var markdown = MatrixReport.Markdown(machine, seconds, runs, ceilings, results) + CarrierRatios.Markdown(ceilings, results)
            + MatrixReport.SpdkMarkdown(spdkRows, results)
            + MatrixReport.SpdkTlsMarkdown(spdkRows, results);
        Directory.CreateDirectory(outDir);
        var stamp = DateTimeOffset.UtcNow.ToString("yyyyMMdd-HHmm", CultureInfo.InvariantCulture);
        var mdPath = Path.Combine(outDir, $"matrix-{stamp}.md");
        var svgPath = Path.Combine(outDir, $"matrix-{stamp}.svg");
        await File.WriteAllTextAsync(mdPath, markdown, new UTF8Encoding(false)).ConfigureAwait(false);
        await File.WriteAllTextAsync(svgPath, MatrixChart.Svg(results), new UTF8Encoding(false)).ConfigureAwait(false);
        Console.WriteLine(markdown);
        Console.WriteLine($"written: {mdPath}, {svgPath}");
        return results.Any(r => r.Errors > 0) ? 1 : 0;
    }

    /// <summary>SPDK beside us on plain TCP: perf → SPDK, perf → NvmeMptls, our bench → SPDK, each cell, each run.</summary>
    private static async Task RunSpdkAsync(string root, string targetDll, string cliDll, int? targetCpu, int? initiatorCpu, int seconds, int runs, List<SpdkResult> rows)
    {
        var tcp = Carrier.All[0];
        for (var run = 1; run <= runs; run++)
        {
            using (var spdk = await SpdkRows.StartAsync(root).ConfigureAwait(false))
            {
                // Fill the Malloc bdev first, as ours is filled: SPDK's --no-huge memory is faulted in on first touch, and
                // a random read of untouched pages measured the page faults (161k instead of 354k IOPS at 4 KiB QD32).
                await InitiatorRun.RunAsync(cliDll, spdk.Port, SpdkRows.SpdkNqn, tcp, new MatrixCell("fill", "write", "128k", 16), null, initiatorCpu, 120,
                    NamespaceSize, timeBased: false).ConfigureAwait(false);
                foreach (var cell in MatrixCell.SpdkCells)
                {
                    var perf = await SpdkRows.PerfAsync(root, spdk.Port, SpdkRows.SpdkNqn, cell, seconds).ConfigureAwait(false);
                    rows.Add(new SpdkResult(SpdkResult.PerfOnSpdk, cell, perf.Iops, perf.MiBps, perf.MeanMicros));
                    var ours = await InitiatorRun.RunAsync(cliDll, spdk.Port, SpdkRows.SpdkNqn, tcp, cell, null, initiatorCpu, seconds, NamespaceSize).ConfigureAwait(false);
                    rows.Add(new SpdkResult(SpdkResult.BenchOnSpdk, cell, ours.Iops, ours.MiBps, ours.P50Micros));
                }
            }

            // QD1 with our ends polling: a target started with receive polling, under spdk_nvme_perf and under our bench.
            var polledCell = MatrixCell.PolledLatency;
            var polled = await TargetProcess.StartAsync(targetDll, tcp, null, targetCpu, NamespaceSize, polledCell.PollMicros).ConfigureAwait(false);
            await using (polled.ConfigureAwait(false))
            {
                await FillAsync(cliDll, polled, tcp, null, initiatorCpu).ConfigureAwait(false);
                var perf = await SpdkRows.PerfAsync(root, polled.Port, TargetProcess.Nqn, polledCell, seconds).ConfigureAwait(false);
                rows.Add(new SpdkResult(SpdkResult.PerfOnOurs, polledCell, perf.Iops, perf.MiBps, perf.MeanMicros));
                var ours = await InitiatorRun.RunAsync(cliDll, polled, tcp, polledCell, null, initiatorCpu, seconds, NamespaceSize).ConfigureAwait(false);
                rows.Add(new SpdkResult(SpdkResult.BenchOnOurs, polledCell, ours.Iops, ours.MiBps, ours.P50Micros));
            }

            var target = await TargetProcess.StartAsync(targetDll, tcp, null, targetCpu, NamespaceSize).ConfigureAwait(false);
            await using (target.ConfigureAwait(false))
            {
                await FillAsync(cliDll, target, tcp, null, initiatorCpu).ConfigureAwait(false);
                foreach (var cell in MatrixCell.All)
                {
                    var perf = await SpdkRows.PerfAsync(root, target.Port, TargetProcess.Nqn, cell, seconds).ConfigureAwait(false);
                    rows.Add(new SpdkResult(SpdkResult.PerfOnOurs, cell, perf.Iops, perf.MiBps, perf.MeanMicros));
                }
            }
        }
    }

    /// <summary>
    /// SPDK beside us with TLS, spdk_nvme_perf as the one initiator: perf → SPDK with stock ssl options, → SPDK with
    /// 2 MiB ssl socket buffers, → our target with TLS; each cell, each run. The PSK is the matrix's key in a 0600 file.
    /// </summary>
    private static async Task RunSpdkTlsAsync(string root, string targetDll, string cliDll, int? targetCpu, int? initiatorCpu, int seconds, int runs, List<SpdkResult> rows)
    {
        var tls = Carrier.All.First(c => c.Tls && !c.Mptcp);
        var keyFile = Path.Combine(Path.GetTempPath(), $"nvmemptls-matrix-psk-{Environment.ProcessId}");
        await File.WriteAllTextAsync(keyFile, TlsKey).ConfigureAwait(false);
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(keyFile, UnixFileMode.UserRead | UnixFileMode.UserWrite); // SPDK's keyring refuses a key others can read
        }

        try
        {
            for (var run = 1; run <= runs; run++)
            {
                foreach (var (mode, pair) in new[] { (SpdkTls.Stock, SpdkResult.PerfTlsOnSpdkStock), (SpdkTls.Tuned, SpdkResult.PerfTlsOnSpdkTuned) })
                {
                    using var spdk = await SpdkRows.StartAsync(root, mode, keyFile).ConfigureAwait(false);
                    await PerfOverTlsAsync(root, spdk.Port, SpdkRows.SpdkNqn, keyFile, seconds, run, pair, rows).ConfigureAwait(false);
                }

#pragma warning disable CA2000 // disposed by the await using below; the analyzer does not follow an awaited factory
                var target = await TargetProcess.StartAsync(targetDll, tls, TlsKey, targetCpu, NamespaceSize).ConfigureAwait(false);
#pragma warning restore CA2000
                await using (target.ConfigureAwait(false))
                {
                    await FillAsync(cliDll, target, tls, TlsKey, initiatorCpu).ConfigureAwait(false);
                    await PerfOverTlsAsync(root, target.Port, TargetProcess.Nqn, keyFile, seconds, run, SpdkResult.PerfTlsOnOurs, rows).ConfigureAwait(false);
                }
            }
        }
        finally
        {
            File.Delete(keyFile);
        }
    }

    /// <summary>Writes the whole namespace once: the memory namespace allocates its chunks on first write.</summary>
    private static Task<MatrixResult> FillAsync(string cliDll, TargetProcess target, Carrier carrier, string? tlsKey, int? initiatorCpu) =>
        InitiatorRun.RunAsync(cliDll, target, carrier, new MatrixCell("fill", "write", "128k", 16), tlsKey, initiatorCpu, 120, NamespaceSize, timeBased: false);

    /// <summary>spdk_nvme_perf over TLS for every cell against one target, each result a row of <paramref name="pair"/>.</summary>
    private static async Task PerfOverTlsAsync(string root, int port, string nqn, string keyFile, int seconds, int run, string pair, List<SpdkResult> rows)
    {
        foreach (var cell in MatrixCell.All)
        {
            var perf = await SpdkRows.PerfAsync(root, port, nqn, cell, seconds, keyFile).ConfigureAwait(false);
            rows.Add(new SpdkResult(pair, cell, perf.Iops, perf.MiBps, perf.MeanMicros));
            await Console.Error.WriteLineAsync(string.Create(CultureInfo.InvariantCulture, $"run {run} {pair}: {cell.Name} {perf.Iops:0} IOPS {perf.MiBps:0} MiB/s")).ConfigureAwait(false);
        }
    }

    private static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "NvmeMptls.sln")))
            {
                return dir.FullName;
            }
        }

        return Directory.GetCurrentDirectory();
    }
}
