using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using NvmeMptls.Target.Configuration;
using NvmeMptls.Target.Gateway;

namespace NvmeMptls.Target.Hosting;

/// <summary>
/// The gateway group's control surface, beside the metrics on the same host and port (Metrics:Url's, path
/// /gateway/): <c>GET /gateway/status</c> (JSON), <c>POST /gateway/move?group=N&amp;to=NAME</c> (planned move; a
/// member that does not own the group forwards it to the owner's ControlUrl) and <c>POST /gateway/drain?to=NAME</c>
/// (every group this gateway owns). Unauthenticated like /metrics: bind Metrics:Url to a management address.
/// </summary>
internal sealed partial class GatewayControlEndpoint : IAsyncDisposable
{
    private static readonly HttpClient s_forward = new() { Timeout = TimeSpan.FromSeconds(60) };
    private readonly HttpListener _listener = new();
    private readonly GatewayCoordinator _gateway;
    private readonly Func<GatewayOptions> _options;
    private readonly ILogger _logger;
    private readonly Task _loop;

    private GatewayControlEndpoint(Uri prefix, GatewayCoordinator gateway, Func<GatewayOptions> options, ILogger logger)
    {
        _gateway = gateway;
        _options = options;
        _logger = logger;
        Prefix = prefix;
        _listener.Prefixes.Add(prefix.ToString());
        _listener.Start();
        _loop = Task.Run(AcceptLoopAsync);
    }

    public Uri Prefix { get; }

    /// <summary>The control prefix beside <paramref name="metricsUrl"/>: same scheme, host and port, path /gateway/.</summary>
    public static Uri PrefixFor(string metricsUrl)
    {
        var metrics = new Uri(metricsUrl, UriKind.Absolute);
        return new UriBuilder(metrics.Scheme, metrics.Host, metrics.Port, "/gateway/").Uri;
    }

    public static GatewayControlEndpoint Start(string metricsUrl, GatewayCoordinator gateway, Func<GatewayOptions> options, ILogger logger) =>
        new(PrefixFor(metricsUrl), gateway, options, logger);

    private async Task AcceptLoopAsync()
    {
        while (_listener.IsListening)
        {
            HttpListenerContext context;
            try
            {
                context = await _listener.GetContextAsync().ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is HttpListenerException or ObjectDisposedException or InvalidOperationException)
            {
                return;
            }

            _ = Task.Run(() => HandleAsync(context));
        }
    }

    private async Task HandleAsync(HttpListenerContext context)
    {
        int status;
        string body;
        string contentType = "text/plain; charset=utf-8";
        try
        {
            var request = context.Request;
            string path = request.Url?.AbsolutePath.TrimEnd('/') ?? "";
            var query = System.Web.HttpUtility.ParseQueryString(request.Url?.Query ?? "");
            (status, body) = (request.HttpMethod, path) switch
            {
                ("GET", "/gateway/status") => (200, StatusJson()),
                ("POST", "/gateway/move") => await MoveAsync(query["group"], query["to"], query["forwarded"] == "1").ConfigureAwait(false),
                ("POST", "/gateway/drain") => await DrainAsync(query["to"]).ConfigureAwait(false),
                _ => (404, "unknown: GET /gateway/status, POST /gateway/move?group=N&to=NAME, POST /gateway/drain?to=NAME\n"),
            };
            if (status == 200 && path == "/gateway/status")
            {
                contentType = "application/json";
            }
        }
        catch (Exception ex) when (ex is IOException or HttpRequestException or TaskCanceledException)
        {
            (status, body) = (502, ex.Message + "\n");
        }

        Log.Request(_logger, context.Request.HttpMethod, context.Request.Url?.PathAndQuery ?? "", status);
        try
        {
            byte[] bytes = Encoding.UTF8.GetBytes(body);
            context.Response.StatusCode = status;
            context.Response.ContentType = contentType;
            context.Response.ContentLength64 = bytes.Length;
            await context.Response.OutputStream.WriteAsync(bytes).ConfigureAwait(false);
            context.Response.Close();
        }
        catch (Exception ex) when (ex is HttpListenerException or IOException or ObjectDisposedException)
        {
            // The client went away.
        }
    }

    private async Task<(int, string)> MoveAsync(string? groupText, string? to, bool forwarded)
    {
        var options = _options();
        if (!uint.TryParse(groupText, NumberStyles.None, CultureInfo.InvariantCulture, out uint group) || string.IsNullOrEmpty(to))
        {
            return (400, "usage: POST /gateway/move?group=N&to=NAME\n");
        }

        if (!options.Members.Any(m => m.Name == to))
        {
            return (400, $"'{to}' is not a member of gateway group {options.Group} ({string.Join(", ", options.Members.Select(m => m.Name))})\n");
        }

        var status = _gateway.Status().FirstOrDefault(s => s.AnaGroup == group);
        if (status is null)
        {
            return (404, $"ANA group {group} is not managed by gateway group {options.Group}\n");
        }

        if (status.Role == GatewayRole.Owner)
        {
            var (done, detail) = await _gateway.MoveAsync(group, to).ConfigureAwait(false);
            return (done ? 200 : 409, detail + "\n");
        }

        // Not ours: the owner (as we see it) releases it; ask it once.
        var owner = options.Members.FirstOrDefault(m => m.Name == status.Owner);
        if (forwarded || owner?.ControlUrl is not { } url)
        {
            return (409, $"ANA group {group} is owned by {status.Owner ?? "nobody"}, not {_gateway.Gateway}; send the move to the owner's control URL\n");
        }

        var target = new Uri(PrefixFor(url), $"move?group={group}&to={Uri.EscapeDataString(to)}&forwarded=1");
        using var response = await s_forward.PostAsync(target, null).ConfigureAwait(false);
        return ((int)response.StatusCode, await response.Content.ReadAsStringAsync().ConfigureAwait(false));
    }

    private async Task<(int, string)> DrainAsync(string? to)
    {
        var options = _options();
        to ??= options.Members.Select(m => m.Name).FirstOrDefault(n => n != _gateway.Gateway);
        if (to is null || !options.Members.Any(m => m.Name == to) || to == _gateway.Gateway)
        {
            return (400, $"drain needs another member of gateway group {options.Group} to move to (to=NAME)\n");
        }

        var (done, detail) = await _gateway.DrainAsync(to).ConfigureAwait(false);
        return (done ? 200 : 409, detail + "\n");
    }

    private string StatusJson()
    {
        var options = _options();
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartObject();
            w.WriteString("group", options.Group);
            w.WriteString("gateway", _gateway.Gateway);
            w.WriteStartArray("ana_groups");
            foreach (var s in _gateway.Status())
            {
                w.WriteStartObject();
                w.WriteNumber("ana_group", s.AnaGroup);
                w.WriteString("role", GatewayRoles.Name(s.Role));
                w.WriteString("state", Transport.Nvme.AnaStates.Name(_gateway.StateFor(s.Role)));
                w.WriteString("owner", s.Owner);
                w.WriteString("preferred_owner", s.PreferredOwner);
                w.WriteNumber("lease_age_seconds", Math.Round(s.LeaseAgeSeconds, 3));
                w.WriteNumber("fenced_peers", s.FencedPeers);
                w.WriteEndObject();
            }

            w.WriteEndArray();
            w.WriteStartArray("members");
            foreach (var m in options.Members)
            {
                w.WriteStartObject();
                w.WriteString("name", m.Name);
                w.WriteString("control_url", m.ControlUrl);
                w.WriteStartArray("ports");
                foreach (var p in m.Ports)
                {
                    w.WriteStringValue($"{p.Transport}:{p.Address}:{p.Port.ToString(CultureInfo.InvariantCulture)}{(p.Tls ? " tls" : "")}");
                }

                w.WriteEndArray();
                w.WriteEndObject();
            }

            w.WriteEndArray();
            w.WriteEndObject();
        }

        return Encoding.UTF8.GetString(stream.ToArray()) + "\n";
    }

    public async ValueTask DisposeAsync()
    {
        _listener.Stop();
        _listener.Close();
        await _loop.ConfigureAwait(false);
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 5121, Level = LogLevel.Information, Message = "Gateway control: {Method} {Path} -> {Status}")]
        public static partial void Request(ILogger logger, string method, string path, int status);
    }
}
