using System.Globalization;
using System.Text;

namespace NvmeMptls.Bench.Matrix;

/// <summary>
/// What each carrier costs, cell by cell: MPTCP over TCP and TLS over plain, each a ratio of two rows of the same run (the
/// carriers run in turn within a run, so a pair shares the machine's mode), as median (min–max) over the runs. Beside the
/// MPTCP ratios, the kernel's own: iperf3 under mptcpize over iperf3 on TCP, a bulk stream with nothing else on the CPU.
/// </summary>
public static class CarrierRatios
{
    public static string Markdown(Ceilings ceilings, IReadOnlyList<MatrixResult> results)
    {
        var carriers = results.Select(r => r.Carrier).Distinct().ToList();
        var pairs = new List<(string Label, Carrier Over, Carrier Under)>();
        foreach (var (over, under, label) in new[]
        {
            ("mptcp", "tcp", "MPTCP / TCP"),
            ("tls/mptcp", "tls/tcp", "MPTCP / TCP, both TLS"),
            ("tls/tcp", "tcp", "TLS / plain on TCP"),
            ("tls/mptcp", "mptcp", "TLS / plain on MPTCP"),
        })
        {
            var o = carriers.FirstOrDefault(c => c.Name == over);
            var u = carriers.FirstOrDefault(c => c.Name == under);
            if (o is not null && u is not null)
            {
                pairs.Add((label, o, u));
            }
        }

        if (pairs.Count == 0)
        {
            return "";
        }

        var inv = CultureInfo.InvariantCulture;
        var md = new StringBuilder();
        md.AppendLine();
        md.AppendLine("What each carrier costs: IOPS of one carrier over another's in the same run (MiB/s is proportional; at QD1 it is " +
            "the inverse of the mean latency), median (min–max) over the runs. Below 1.0 the first carrier is slower.");
        if (ceilings.TcpMiBps is { } tcp && ceilings.MptcpMiBps is { } mptcp && tcp > 0)
        {
            md.AppendLine(inv, $"The kernel's own MPTCP / TCP on this loopback, iperf3 (one stream, 5 s): {mptcp / tcp:0.00}.");
        }

        md.AppendLine();
        md.Append("| cell |");
        foreach (var p in pairs)
        {
            md.Append(' ').Append(p.Label).Append(" |");
        }

        md.AppendLine();
        md.Append("|---|");
        foreach (var _ in pairs)
        {
            md.Append("---|");
        }

        md.AppendLine();
        foreach (var cell in MatrixCell.All)
        {
            md.Append("| ").Append(cell.Name).Append(" |");
            foreach (var p in pairs)
            {
                md.Append(' ').Append(Show(RunRatios(results, cell, p.Over, p.Under))).Append(" |");
            }

            md.AppendLine();
        }

        return md.ToString();
    }

    /// <summary>The k-th run of <paramref name="over"/> over the k-th run of <paramref name="under"/>, for every k both have.</summary>
    public static double[] RunRatios(IReadOnlyList<MatrixResult> results, MatrixCell cell, Carrier over, Carrier under)
    {
        var a = results.Where(r => r.Cell == cell && r.Carrier == over).Select(r => r.Iops).ToArray();
        var b = results.Where(r => r.Cell == cell && r.Carrier == under).Select(r => r.Iops).ToArray();
        var n = Math.Min(a.Length, b.Length);
        var ratios = new List<double>(n);
        for (var k = 0; k < n; k++)
        {
            if (b[k] > 0)
            {
                ratios.Add(a[k] / b[k]);
            }
        }

        return [.. ratios.Order()];
    }

    private static string Show(double[] sorted)
    {
        if (sorted.Length == 0)
        {
            return "—";
        }

        var inv = CultureInfo.InvariantCulture;
        var median = sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[(sorted.Length / 2) - 1] + sorted[sorted.Length / 2]) / 2;
        return sorted.Length == 1
            ? median.ToString("0.00", inv)
            : string.Create(inv, $"{median:0.00} ({sorted[0]:0.00}–{sorted[^1]:0.00})");
    }
}
