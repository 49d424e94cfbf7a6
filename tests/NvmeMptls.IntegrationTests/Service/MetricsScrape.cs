using System.Globalization;
using System.Text.RegularExpressions;

namespace NvmeMptls.IntegrationTests.Service;

/// <summary>A parsed Prometheus text exposition: one value per series, found by name and label subset.</summary>
public sealed partial class MetricsScrape
{
    private readonly List<(string Name, Dictionary<string, string> Labels, double Value)> _series = [];

    public MetricsScrape(string text)
    {
        Text = text;
        foreach (var raw in text.Split('\n'))
        {
            var line = raw.Trim();
            if (line.Length == 0 || line[0] == '#')
            {
                continue;
            }

            var m = SeriesLine().Match(line);
            if (!m.Success)
            {
                throw new FormatException($"not a series line: {line}");
            }

            var labels = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (Match l in LabelPair().Matches(m.Groups["labels"].Value))
            {
                labels[l.Groups["k"].Value] = l.Groups["v"].Value;
            }

            var value = m.Groups["value"].Value switch
            {
                "+Inf" => double.PositiveInfinity,
                "-Inf" => double.NegativeInfinity,
                "NaN" => double.NaN,
                var v => double.Parse(v, CultureInfo.InvariantCulture),
            };
            _series.Add((m.Groups["name"].Value, labels, value));
        }
    }

    public string Text { get; }

    public IEnumerable<string> Names => _series.Select(s => s.Name).Distinct(StringComparer.Ordinal);

    /// <summary>Sum of every series named <paramref name="name"/> whose labels include <paramref name="labels"/> ("k=v").</summary>
    public double Sum(string name, params string[] labels)
    {
        var wanted = labels.Select(l => l.Split('=', 2)).ToArray();
        double total = 0;
        foreach (var (n, ls, v) in _series)
        {
            if (n == name && wanted.All(w => ls.TryGetValue(w[0], out var x) && x == w[1]))
            {
                total += v;
            }
        }

        return total;
    }

    public bool Has(string name) => _series.Any(s => s.Name == name);

    public static async Task<MetricsScrape> FetchAsync(Uri url)
    {
        using var http = new HttpClient();
        return new MetricsScrape(await http.GetStringAsync(url).ConfigureAwait(false));
    }

    [GeneratedRegex("""^(?<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?<labels>.*)\})?\s+(?<value>\S+)(\s+\d+)?$""")]
    private static partial Regex SeriesLine();

    [GeneratedRegex("""(?<k>[a-zA-Z_][a-zA-Z0-9_]*)="(?<v>(\\.|[^"\\])*)",?""")]
    private static partial Regex LabelPair();
}
