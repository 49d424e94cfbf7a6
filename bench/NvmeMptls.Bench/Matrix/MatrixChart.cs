using System.Globalization;
using System.Security;
using System.Text;

namespace NvmeMptls.Bench.Matrix;

/// <summary>
/// A dependency-free SVG bar chart of the matrix: one panel per cell, one bar per carrier (median of the runs); IOPS
/// for the 4 KiB cells, MiB/s for the 128 KiB cells, and latency (µs) for QD1.
/// </summary>
public static class MatrixChart
{
    private static readonly string[] s_colors = ["#4e79a7", "#f28e2b", "#59a14f", "#e15759"];

    public static string Svg(IReadOnlyList<MatrixResult> results)
    {
        var inv = CultureInfo.InvariantCulture;
        var carriers = results.Select(r => r.Carrier).Distinct().ToList();
        const int panelWidth = 220, panelHeight = 180, top = 60, barArea = 150;
        var width = (panelWidth * MatrixCell.All.Length) + 20;
        var svg = new StringBuilder();
        svg.AppendLine(inv, $"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{panelHeight + top + 10}\" font-family=\"sans-serif\" font-size=\"11\">");
        svg.AppendLine("<rect width=\"100%\" height=\"100%\" fill=\"white\"/>");
        svg.AppendLine("<text x=\"10\" y=\"20\" font-size=\"14\">NvmeMptls benchmark matrix (median of runs)</text>");
        for (var i = 0; i < carriers.Count; i++)
        {
            svg.AppendLine(inv, $"<rect x=\"{10 + (i * 110)}\" y=\"30\" width=\"10\" height=\"10\" fill=\"{s_colors[i % s_colors.Length]}\"/>");
            svg.AppendLine(inv, $"<text x=\"{24 + (i * 110)}\" y=\"39\">{SecurityElement.Escape(carriers[i].Name)}</text>");
        }

        for (var p = 0; p < MatrixCell.All.Length; p++)
        {
            var cell = MatrixCell.All[p];
            var x0 = 10 + (p * panelWidth);
            var unit = cell.IsLatencyCell ? "p50 µs" : cell.IsBandwidthCell ? "MiB/s" : "IOPS";
            var values = carriers.Select(c => Median(results, c, cell)).ToList();
            var max = Math.Max(values.Max(), 1e-9);
            svg.AppendLine(inv, $"<text x=\"{x0}\" y=\"{top}\">{SecurityElement.Escape(cell.Name)} ({unit})</text>");
            var barWidth = (panelWidth - 40) / Math.Max(carriers.Count, 1);
            for (var i = 0; i < carriers.Count; i++)
            {
                var h = values[i] / max * barArea;
                var x = x0 + (i * barWidth);
                var y = top + 25 + (barArea - h);
                svg.AppendLine(inv, $"<rect x=\"{x}\" y=\"{y:0.0}\" width=\"{barWidth - 4}\" height=\"{h:0.0}\" fill=\"{s_colors[i % s_colors.Length]}\"/>");
                svg.AppendLine(inv, $"<text x=\"{x}\" y=\"{y - 3:0.0}\" font-size=\"9\">{values[i]:0}</text>");
            }
        }

        svg.AppendLine("</svg>");
        return svg.ToString();
    }

    private static double Median(IReadOnlyList<MatrixResult> results, Carrier carrier, MatrixCell cell)
    {
        var values = results.Where(r => r.Carrier == carrier && r.Cell == cell)
            .Select(r => cell.IsLatencyCell ? r.P50Micros : cell.IsBandwidthCell ? r.MiBps : r.Iops).Order().ToArray();
        return values.Length == 0 ? 0 : values[values.Length / 2];
    }
}
