using System.Diagnostics;
using System.Globalization;
using System.Net.Http;
using System.Text.Json;
using NvmeMptls.Initiator;
using NvmeMptls.IntegrationTests.TestKit;
using NvmeMptls.Transport.Nvme;

namespace NvmeMptls.IntegrationTests.Rbd;

/// <summary>
/// Two real target processes (the built service) forming one gateway group over one RBD image of the test cluster:
/// gw1 and gw2, each with its own NVMe/TCP port (gw1 also a discovery port) and metrics/control URL, ANA group 2
/// (namespace 1) managed with a short lease, gw1 preferred. The image has only the layering feature, so the
/// gateway lease is the one arbiter of who writes (no librbd exclusive-lock hand-offs).
/// </summary>
internal sealed class GatewayGroupKit : IAsyncDisposable
{
    public const string Nqn = "nqn.2026-01.io.nvmemptls:gateway-group";
    public const uint AnaGroup = 2;
    public static readonly TimeSpan Lease = TimeSpan.FromSeconds(6);
    private static readonly HttpClient s_http = new() { Timeout = TimeSpan.FromSeconds(60) };

    private readonly string _dir;
    private readonly Dictionary<string, TargetProcess> _processes = [];

    private GatewayGroupKit(CephMiniCluster cluster, string image, string dir)
    {
        Cluster = cluster;
        Image = image;
        _dir = dir;
        Group = "t" + Environment.ProcessId.ToString(CultureInfo.InvariantCulture) + "-" + image;
        Ports = new() { ["gw1"] = TargetProcess.FreePort(), ["gw2"] = TargetProcess.FreePort() };
        Metrics = new() { ["gw1"] = TargetProcess.FreePort(), ["gw2"] = TargetProcess.FreePort() };
        DiscoveryPort = TargetProcess.FreePort();
    }

    public CephMiniCluster Cluster { get; }

    public string Image { get; }

    public string Group { get; }

    public Dictionary<string, int> Ports { get; }

    public Dictionary<string, int> Metrics { get; }

    public int DiscoveryPort { get; }

    public TargetProcess Process(string name) => _processes[name];

    public static GatewayGroupKit Create(CephMiniCluster cluster, string image)
    {
        cluster.Rbd($"create --size 64M --image-feature layering rbd/{image}");
        return new GatewayGroupKit(cluster, image, Directory.CreateTempSubdirectory("nvmemptls-gw-").FullName);
    }

    public string Config(string name, string standby = "inaccessible") => $$"""
        {
          "Target": {
            "Subsystems": [ { "Nqn": "{{Nqn}}", "Namespaces": [
              { "Nsid": 1, "Backing": "rbd", "AnaGroup": {{AnaGroup}}, "Rbd": { "Pool": "rbd", "Image": "{{Image}}", "CephConf": "{{Cluster.CephConf}}" } } ] } ],
            "Ports": [ { "Id": 1, "Address": "127.0.0.1", "Port": {{Ports[name]}}{{(name == "gw1" ? $", \"DiscoveryPort\": {DiscoveryPort}" : "")}} } ],
            "Ana": { "TransitionTimeSeconds": 30 },
            "Metrics": { "Enabled": true, "Url": "http://127.0.0.1:{{Metrics[name]}}/metrics" },
            "ShutdownGracePeriod": "00:00:02",
            "Gateway": {
              "Group": "{{Group}}", "Name": "{{name}}", "Pool": "rbd", "CephConf": "{{Cluster.CephConf}}",
              "LeaseDuration": "{{Lease}}", "StandbyState": "{{standby}}",
              "AnaGroups": [ { "Id": {{AnaGroup}}, "PreferredOwner": "gw1" } ],
              "Members": [
                { "Name": "gw1", "ControlUrl": "http://127.0.0.1:{{Metrics["gw1"]}}/metrics", "Ports": [ { "Address": "127.0.0.1", "Port": {{Ports["gw1"]}} } ] },
                { "Name": "gw2", "ControlUrl": "http://127.0.0.1:{{Metrics["gw2"]}}/metrics", "Ports": [ { "Address": "127.0.0.1", "Port": {{Ports["gw2"]}} } ] } ]
            }
          }
        }
        """;

    /// <summary>Rewrites <paramref name="name"/>'s configuration file (the service reloads it).</summary>
    public Task RewriteAsync(string name, string standby) => File.WriteAllTextAsync(Path.Combine(_dir, name + ".json"), Config(name, standby));

    /// <summary>GET /gateway/status of <paramref name="name"/>: the ANA state its ports show for group 2.</summary>
    public async Task<string> PortStateAsync(string name)
    {
        string json = await s_http.GetStringAsync(new Uri($"http://127.0.0.1:{Metrics[name]}/gateway/status"));
        using var doc = JsonDocument.Parse(json);
        return doc.RootElement.GetProperty("ana_groups").EnumerateArray().Single(g => g.GetProperty("ana_group").GetUInt32() == AnaGroup).GetProperty("state").GetString()!;
    }

    public async Task StartAsync(string name)
    {
        string config = Path.Combine(_dir, name + ".json");
        await File.WriteAllTextAsync(config, Config(name));
        var process = TargetProcess.Start(["--config", config]);
        _processes[name] = process;
        await process.WaitReadyAsync(TimeSpan.FromSeconds(120));
    }

    /// <summary>GET /gateway/status of <paramref name="name"/>: (role, owner, fenced peers) of ANA group 2.</summary>
    public async Task<(string Role, string? Owner, long Fenced)> StatusAsync(string name)
    {
        string json = await s_http.GetStringAsync(new Uri($"http://127.0.0.1:{Metrics[name]}/gateway/status"));
        using var doc = JsonDocument.Parse(json);
        var group = doc.RootElement.GetProperty("ana_groups").EnumerateArray().Single(g => g.GetProperty("ana_group").GetUInt32() == AnaGroup);
        return (group.GetProperty("role").GetString()!, group.GetProperty("owner").GetString(), group.GetProperty("fenced_peers").GetInt64());
    }

    /// <summary>The Prometheus text of <paramref name="name"/>'s /metrics.</summary>
    public Task<string> MetricsAsync(string name) => s_http.GetStringAsync(new Uri($"http://127.0.0.1:{Metrics[name]}/metrics"));

    public async Task<(int Status, string Body)> PostAsync(string name, string pathAndQuery)
    {
        using var response = await s_http.PostAsync(new Uri($"http://127.0.0.1:{Metrics[name]}/gateway/{pathAndQuery}"), null);
        return ((int)response.StatusCode, await response.Content.ReadAsStringAsync());
    }

    public async Task WaitRoleAsync(string name, string role, TimeSpan? timeout = null)
    {
        var deadline = Stopwatch.StartNew();
        var last = ("?", (string?)null, 0L);
        while (deadline.Elapsed < (timeout ?? TimeSpan.FromSeconds(90)))
        {
            last = await StatusAsync(name);
            if (last.Item1 == role)
            {
                return;
            }

            await Task.Delay(100);
        }

        Assert.Fail($"{name} never became {role} (last: {last})\n{name} output:\n{Process(name).StandardOutput}");
    }

    public NvmeControllerOptions Options(string name) => NvmeControllerOptions.Default with
    {
        TargetPort = Ports[name],
        SubsystemNqn = Nqn,
        IoQueueCount = 2,
        Multipath = NvmeMultipathPolicy.Disabled,
        ReconnectDelay = TimeSpan.FromSeconds(1),
    };

    public async ValueTask DisposeAsync()
    {
        foreach (var p in _processes.Values)
        {
            try
            {
                System.Diagnostics.Process.GetProcessById(p.Id).Kill();
            }
            catch (Exception ex) when (ex is ArgumentException or InvalidOperationException or System.ComponentModel.Win32Exception)
            {
                // Already gone.
            }

            await p.DisposeAsync();
        }

        Directory.Delete(_dir, recursive: true);
    }
}

/// <summary>A write-then-read-back loop over a multipath namespace that records errors, mismatches and when each I/O finished.</summary>
internal sealed class GatewayVerifyLoop
{
    private readonly NvmeMultipathNamespace _ns;
    private readonly Stopwatch _clock;
    private long _completed;
    private long _lastDoneMs;

    public GatewayVerifyLoop(NvmeMultipathNamespace ns, Stopwatch clock)
    {
        _ns = ns;
        _clock = clock;
    }

    public List<string> Problems { get; } = [];

    public long Completed => Interlocked.Read(ref _completed);

    public long LastDoneMs => Interlocked.Read(ref _lastDoneMs);

    /// <summary>The longest gap between two completed I/Os (ms) and when it ended.</summary>
    public (long GapMs, long EndedAtMs) LongestGap { get; private set; }

    public Task RunAsync(CancellationToken stop) => Task.Run(async () =>
    {
        var data = new byte[4096];
        var back = new byte[4096];
        long previous = _clock.ElapsedMilliseconds;
        for (var i = 0; !stop.IsCancellationRequested; i++)
        {
            Random.Shared.NextBytes(data);
            var lba = (ulong)(i % 1024) * 8;
            try
            {
                await _ns.WriteAsync(lba, data);
                await _ns.ReadAsync(lba, back);
                if (!back.AsSpan().SequenceEqual(data))
                {
                    Problems.Add($"block {lba}: mismatch");
                }
            }
            catch (Exception ex) when (ex is IOException or NvmeStatusException)
            {
                Problems.Add($"block {lba} at {_clock.ElapsedMilliseconds} ms: {ex.Message}");
            }

            long now = _clock.ElapsedMilliseconds;
            if (now - previous > LongestGap.GapMs)
            {
                LongestGap = (now - previous, now);
            }

            previous = now;
            Interlocked.Exchange(ref _lastDoneMs, now);
            Interlocked.Increment(ref _completed);
        }
    }, CancellationToken.None);

    public async Task WaitProgressAsync(long more, string what)
    {
        long target = Completed + more;
        var deadline = Stopwatch.StartNew();
        while (Completed < target)
        {
            if (deadline.Elapsed > TimeSpan.FromSeconds(120))
            {
                Assert.Fail($"no I/O progress: {what} ({string.Join("; ", Problems.Take(5))})");
            }

            await Task.Delay(20);
        }
    }
}
