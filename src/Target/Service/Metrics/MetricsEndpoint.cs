using Prometheus;

namespace NvmeMptls.Target.Metrics;

/// <summary>
/// Serves a <see cref="CollectorRegistry"/> over HTTP at the configured <c>Metrics:Url</c> with prometheus-net's
/// HttpListener-based <see cref="MetricServer"/> (no ASP.NET Core).
/// </summary>
public sealed class MetricsEndpoint : IAsyncDisposable
{
    private readonly MetricServer _server;

    private MetricsEndpoint(MetricServer server, Uri url)
    {
        _server = server;
        Url = url;
    }

    public Uri Url { get; }

    /// <summary>Starts serving; throws <see cref="System.Net.HttpListenerException"/> when the address cannot be bound.</summary>
    public static MetricsEndpoint Start(string url, CollectorRegistry registry)
    {
        var uri = new Uri(url, UriKind.Absolute);

        // MetricServer wants the path without the leading slash; HttpListener prefixes end with one.
        var path = uri.AbsolutePath.Trim('/');
        path = path.Length == 0 ? "" : path + "/";
        var server = new MetricServer(uri.Host, uri.Port, path, registry, uri.Scheme == Uri.UriSchemeHttps);
        server.Start();
        return new MetricsEndpoint(server, uri);
    }

    public async ValueTask DisposeAsync()
    {
        await _server.StopAsync().ConfigureAwait(false);
        _server.Dispose();
    }
}
