using System.Globalization;
using System.Text;

namespace NvmeMptls.Bench.Matrix;

/// <summary>The matrix as Markdown: median (min–max) of the runs per carrier and cell, with ratios to the ceilings.</summary>
public static class MatrixReport
{
    public static string Markdown(string machine, int seconds, int runs, Ceilings ceilings, IReadOnlyList<MatrixResult> results)
    {
        var md = new StringBuilder();
        var inv = CultureInfo.InvariantCulture;
        md.AppendLine(inv, $"Taken {DateTimeOffset.UtcNow:yyyy-MM-dd HH:mm} UTC on {machine}; {seconds} s per cell, {runs} runs, median (min–max).");
        md.AppendLine();
        md.AppendLine("| ceiling | MiB/s |");
        md.AppendLine("|---|---|");
        md.AppendLine(inv, $"| iperf3 loopback TCP | {Show(ceilings.TcpMiBps)} |");
        md.AppendLine(inv, $"| iperf3 loopback MPTCP (mptcpize) | {Show(ceilings.MptcpMiBps, "mptcpize missing: apt-get install mptcpd")} |");
        md.AppendLine(inv, $"| openssl speed aes-128-gcm, one core, 16 KiB | {Show(ceilings.Aes128GcmMiBps)} |");
        md.AppendLine(inv, $"| openssl speed aes-256-gcm, one core, 16 KiB | {Show(ceilings.Aes256GcmMiBps)} |");
        md.AppendLine(inv, $"| our CRC32C, one core | {ceilings.Crc32cMiBps:0} |");
        md.AppendLine();
        if (ceilings.NullEngine is { } nul)
        {
            md.AppendLine(inv, $"The load generator alone (`nvme-mptls bench --ioengine=null`, 4 KiB randread QD32, one core): {nul.Iops:0} IOPS, {nul.CpuMicrosPerIo:0.00} CPU µs per I/O — included in every initiator CPU figure below.");
            md.AppendLine();
        }

        md.AppendLine("| carrier | cell | IOPS | MiB/s | of ceiling | p50 µs | p99 µs | target CPU µs/IO | initiator CPU µs/IO | target B/IO | initiator B/IO | errors |");
        md.AppendLine("|---|---|---|---|---|---|---|---|---|---|---|---|");
        foreach (var carrier in results.Select(r => r.Carrier).Distinct())
        {
            foreach (var cell in MatrixCell.All)
            {
                var rows = results.Where(r => r.Carrier == carrier && r.Cell == cell).ToList();
                if (rows.Count == 0)
                {
                    continue;
                }

                var ceiling = carrier.Mptcp ? ceilings.MptcpMiBps : ceilings.TcpMiBps;
                var mibps = Median(rows, r => r.MiBps);
                var ofCeiling = ceiling is { } c && c > 0 ? (mibps / c).ToString("P0", inv) : "—";
                md.AppendLine(inv, $"| {carrier.Name} | {cell.Name} | {Span(rows, r => r.Iops, "0")} | {Span(rows, r => r.MiBps, "0")} | {ofCeiling} | " +
                    $"{Span(rows, r => r.P50Micros, "0.0")} | {Span(rows, r => r.P99Micros, "0.0")} | {Span(rows, r => r.TargetCpuMicrosPerIo, "0.00")} | " +
                    $"{Span(rows, r => r.InitiatorCpuMicrosPerIo, "0.00")} | {Span(rows, r => r.TargetBytesPerIo, "0.0")} | " +
                    $"{Span(rows, r => r.InitiatorBytesPerIo, "0.0")} | {rows.Sum(r => r.Errors)} |");
            }
        }

        md.AppendLine();
        md.AppendLine("Target CPU and allocation come from the target's own metrics (`process_cpu_seconds_total`, " +
            "`nvmemptls_process_allocated_bytes_total`, per `nvmemptls_namespace_commands_total`), sampled inside the load " +
            "generator's measured window (2 s after its start, 1.5 s before its end), so they leave out the connect and the " +
            "ramp; they include what the target does besides commands in that time (timers, the metrics scrape). The " +
            "initiator's are measured by the load generator over its measured window. \"of ceiling\" is MiB/s over " +
            "iperf3's loopback figure for the same carrier.");
        return md.ToString();
    }

    /// <summary>The SPDK rows and the ratios the issue asks for: ours/SPDK as a target, our bench/perf as an initiator.</summary>
    public static string SpdkMarkdown(IReadOnlyList<SpdkResult> spdk, IReadOnlyList<MatrixResult> ours)
    {
        if (spdk.Count == 0)
        {
            return "\nNo SPDK rows: set NVMEMPTLS_SPDK to a tree built by ../shared/bench/spdk-build.sh to add them.\n";
        }

        var inv = CultureInfo.InvariantCulture;
        var md = TableStart(
            "SPDK v24.09 beside us, plain TCP, same pinning (targets on CPU 0, initiators on CPU 1), median of runs. " +
            "Latency: spdk_nvme_perf's mean, our bench's p50 (µs). 4 KiB cells in IOPS, 128 KiB cells in MiB/s.",
            "| cell | perf → SPDK | perf → NvmeMptls | target ratio (ours/SPDK) | bench → SPDK | initiator ratio (bench/perf on SPDK) | bench → NvmeMptls |");
        foreach (var cell in MatrixCell.SpdkCells)
        {
            var perfSpdk = Pick(spdk, cell, SpdkResult.PerfOnSpdk);
            var perfOurs = Pick(spdk, cell, SpdkResult.PerfOnOurs);
            var benchSpdk = Pick(spdk, cell, SpdkResult.BenchOnSpdk);
            var benchOurs = cell.PollMicros > 0
                ? Pick(spdk, cell, SpdkResult.BenchOnOurs)
                : Figure(cell, ours.Where(r => r.Carrier.Name == "tcp" && r.Cell == cell).Select(r => (r.Iops, r.MiBps, r.P50Micros)));
            md.AppendLine(inv, $"| {CellLabel(cell)} | {perfSpdk:0.#} | {perfOurs:0.#} | {Ratio(cell, perfOurs, perfSpdk)} | {benchSpdk:0.#} | {Ratio(cell, benchSpdk, perfSpdk)} | {benchOurs:0.#} |");
        }

        md.AppendLine();
        md.AppendLine("Ratios are written so that above 1.0 means we do better (for QD1 latency: SPDK's over ours). In the polling row our " +
            "target and bench busy-poll 50 µs before a receive sleeps (`Target:ReceivePollMicroseconds`, `--poll-us`), as SPDK does always; " +
            "its SPDK columns are measured again in the same round.");
        return md.ToString();
    }

    /// <summary>
    /// The TLS rows: spdk_nvme_perf over TLS against SPDK (stock and tuned ssl buffers) and against our target, our TLS
    /// over SPDK's (the issue asks for 3×), and our TLS over our plain target under the same initiator.
    /// </summary>
    public static string SpdkTlsMarkdown(IReadOnlyList<SpdkResult> spdk, IReadOnlyList<MatrixResult> ours)
    {
        if (!spdk.Any(r => r.Pair == SpdkResult.PerfTlsOnOurs))
        {
            return "";
        }

        var inv = CultureInfo.InvariantCulture;
        var md = TableStart(
            "TLS 1.3 (TLS_AES_128_GCM_SHA256, PSK), spdk_nvme_perf `-S ssl --psk-path` as the initiator on CPU 1 for every target on CPU 0, " +
            "median of runs. SPDK tuned = `sock_impl_set_options -i ssl -r 2097152 -s 2097152` before the listener. 4 KiB cells in IOPS, 128 KiB in MiB/s, QD1 in µs (perf's mean).",
            "| cell | perf → SPDK TLS stock | perf → SPDK TLS tuned | perf → NvmeMptls TLS | ours / SPDK stock | ours / SPDK tuned | our TLS / our plain, both under perf |");
        foreach (var cell in MatrixCell.All)
        {
            var stock = Pick(spdk, cell, SpdkResult.PerfTlsOnSpdkStock);
            var tuned = Pick(spdk, cell, SpdkResult.PerfTlsOnSpdkTuned);
            var oursTls = Pick(spdk, cell, SpdkResult.PerfTlsOnOurs);
            var oursPlain = Pick(spdk, cell, SpdkResult.PerfOnOurs);
            md.AppendLine(inv, $"| {CellLabel(cell)} | {stock:0.#} | {tuned:0.#} | {oursTls:0.#} | {Ratio(cell, oursTls, stock)} | {Ratio(cell, oursTls, tuned)} | {Ratio(cell, oursTls, oursPlain)} |");
        }

        md.AppendLine();
        md.AppendLine("Above 1.0 means NvmeMptls does better (for QD1: the other's latency over ours). spdk_nvme_perf's own ssl client (stock " +
            "4 KiB ssl buffers, not tunable from perf) is in every TLS row, so these rows compare targets under one TLS initiator; the last " +
            "column includes that client's cost, and the matrix above gives our TLS over our plain under our own initiator.");
        return md.ToString();
    }

    /// <summary>A blank line, the table's caption, a blank line, its header row and the separator for seven columns.</summary>
    private static StringBuilder TableStart(string caption, string header)
    {
        var md = new StringBuilder();
        md.AppendLine().AppendLine(caption).AppendLine().AppendLine(header).AppendLine("|---|---|---|---|---|---|---|");
        return md;
    }

    /// <summary>The median figure of one pair's rows for a cell (µs for the latency cell, MiB/s or IOPS otherwise).</summary>
    private static double Pick(IReadOnlyList<SpdkResult> spdk, MatrixCell cell, string pair) =>
        Figure(cell, spdk.Where(r => r.Pair == pair && r.Cell == cell).Select(r => (r.Iops, r.MiBps, r.LatencyMicros)));

    /// <summary>Ours over theirs, written so that above 1.0 is better for us (for the latency cell: theirs over ours).</summary>
    private static string Ratio(MatrixCell cell, double ours, double theirs) =>
        ours == 0 || theirs == 0 ? "—" : (cell.IsLatencyCell ? theirs / ours : ours / theirs).ToString("0.00", CultureInfo.InvariantCulture);

    private static string CellLabel(MatrixCell cell) => cell.IsLatencyCell ? cell.Name + " (µs)" : cell.Name;

    private static double Figure(MatrixCell cell, IEnumerable<(double Iops, double MiBps, double Micros)> rows)
    {
        var values = rows.Select(r => cell.IsLatencyCell ? r.Micros : cell.IsBandwidthCell ? r.MiBps : r.Iops).Order().ToArray();
        return values.Length == 0 ? 0 : values[values.Length / 2];
    }

    private static string Show(double? value, string missing = "n/a (tool missing)") =>
        value is { } v ? v.ToString("0", CultureInfo.InvariantCulture) : missing;

    private static double Median(List<MatrixResult> rows, Func<MatrixResult, double> pick)
    {
        var values = rows.Select(pick).Order().ToArray();
        return values.Length % 2 == 1 ? values[values.Length / 2] : (values[(values.Length / 2) - 1] + values[values.Length / 2]) / 2;
    }

    private static string Span(List<MatrixResult> rows, Func<MatrixResult, double> pick, string format)
    {
        var inv = CultureInfo.InvariantCulture;
        var median = Median(rows, pick).ToString(format, inv);
        return rows.Count == 1 ? median : $"{median} ({rows.Min(pick).ToString(format, inv)}–{rows.Max(pick).ToString(format, inv)})";
    }
}
