using System.Globalization;
using System.Text.Json;

namespace NvmeMptls.Cli.Commands;

/// <summary>
/// <c>nvme-mptls gateway status|move|drain --control URL</c>: a gateway group's state and planned moves, through a
/// member target's control endpoint (its <c>Metrics:Url</c> host and port, path /gateway/; deploy/README.md).
/// </summary>
public static class GatewayCommands
{
    private const string Usage = "usage: nvme-mptls gateway status --control URL | move --control URL --group N --to NAME | drain --control URL [--to NAME]";

    public static Verb Gateway { get; } = new("gateway", "a gateway group: status, move --group N --to NAME, drain [--to NAME] (--control URL of a member)", [],
        static (_, _) => Task.FromResult(2)) { Raw = RunAsync };

    private static async Task<int> RunAsync(IReadOnlyList<string> args, VerbContext context, CancellationToken cancellationToken)
    {
        if (args.Count == 0 || args[0] is not ("status" or "move" or "drain"))
        {
            await context.Error.WriteLineAsync(Usage).ConfigureAwait(false);
            return 2;
        }

        var options = new Dictionary<string, string>(StringComparer.Ordinal);
        for (int i = 1; i < args.Count; i++)
        {
            if (!args[i].StartsWith("--", StringComparison.Ordinal) || i + 1 >= args.Count || args[i][2..] is not ("control" or "group" or "to"))
            {
                await context.Error.WriteLineAsync($"gateway: unexpected '{args[i]}'\n{Usage}").ConfigureAwait(false);
                return 2;
            }

            options[args[i][2..]] = args[++i];
        }

        if (!options.TryGetValue("control", out var control) || !Uri.TryCreate(control, UriKind.Absolute, out var url) || url.Scheme is not ("http" or "https"))
        {
            await context.Error.WriteLineAsync($"gateway: --control must be a member's http:// metrics or control URL\n{Usage}").ConfigureAwait(false);
            return 2;
        }

        var baseUri = new UriBuilder(url.Scheme, url.Host, url.Port, "/gateway/").Uri;
        string? query = args[0] switch
        {
            "move" when options.TryGetValue("group", out var g) && uint.TryParse(g, NumberStyles.None, CultureInfo.InvariantCulture, out _) && options.TryGetValue("to", out var to)
                => $"move?group={g}&to={Uri.EscapeDataString(to)}",
            "move" => null,
            "drain" => options.TryGetValue("to", out var t) ? $"drain?to={Uri.EscapeDataString(t)}" : "drain",
            _ => "status",
        };
        if (query is null)
        {
            await context.Error.WriteLineAsync($"gateway move: --group N and --to NAME are required\n{Usage}").ConfigureAwait(false);
            return 2;
        }

        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(90) };
        using var response = args[0] == "status"
            ? await http.GetAsync(new Uri(baseUri, query), cancellationToken).ConfigureAwait(false)
            : await http.PostAsync(new Uri(baseUri, query), null, cancellationToken).ConfigureAwait(false);
        string body = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
        if (!response.IsSuccessStatusCode)
        {
            await context.Error.WriteAsync($"gateway {args[0]}: {(int)response.StatusCode} {body}").ConfigureAwait(false);
            return 1;
        }

        if (args[0] == "status")
        {
            await WriteStatusAsync(context.Out, body).ConfigureAwait(false);
        }
        else
        {
            await context.Out.WriteAsync(body).ConfigureAwait(false);
        }

        return 0;
    }

    /// <summary>The control endpoint's status JSON as text: one line per managed ANA group, then the members.</summary>
    public static async Task WriteStatusAsync(TextWriter o, string json)
    {
        ArgumentNullException.ThrowIfNull(o);
        using var doc = JsonDocument.Parse(json);
        var root = doc.RootElement;
        await o.WriteLineAsync($"gateway group {root.GetProperty("group").GetString()}, this member {root.GetProperty("gateway").GetString()}").ConfigureAwait(false);
        foreach (var g in root.GetProperty("ana_groups").EnumerateArray())
        {
            await o.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
                $"  ANA group {g.GetProperty("ana_group").GetUInt32(),-3} {g.GetProperty("role").GetString(),-9} ports {g.GetProperty("state").GetString(),-13} owner {g.GetProperty("owner").GetString() ?? "none"}, lease age {g.GetProperty("lease_age_seconds").GetDouble():0.0} s, fenced peers {g.GetProperty("fenced_peers").GetInt64()}")).ConfigureAwait(false);
        }

        foreach (var m in root.GetProperty("members").EnumerateArray())
        {
            await o.WriteLineAsync($"  member {m.GetProperty("name").GetString()}: {string.Join(", ", m.GetProperty("ports").EnumerateArray().Select(p => p.GetString()))}").ConfigureAwait(false);
        }
    }
}
