using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using NvmeMptls.IntegrationTests.TestKit;

namespace NvmeMptls.IntegrationTests.Rbd;

/// <summary>
/// A throwaway single-node Ceph (one monitor, one memstore OSD, 127.0.0.1) started by scripts/ceph-minicluster.sh
/// in a directory and on a port of its own, so concurrent runs do not meet; stopping kills only its daemons.
/// </summary>
internal sealed class CephMiniCluster : IDisposable
{
    private readonly string _script;
    private readonly Dictionary<string, string> _environment;

    private CephMiniCluster(string script, string directory, int port)
    {
        _script = script;
        Directory = directory;
        _environment = new()
        {
            ["MINICEPH_DIR"] = directory,
            ["MINICEPH_PORT"] = port.ToString(CultureInfo.InvariantCulture),
            ["MINICEPH_IMG_SIZE"] = "64M",
        };
    }

    public string Directory { get; }

    public string CephConf => Path.Combine(Directory, "ceph.conf");

    /// <summary>Starts the cluster; null with the reason when Ceph's packages are missing and cannot be installed.</summary>
    public static CephMiniCluster? TryStart(out string? reason)
    {
        string script = Path.Combine(TestKit.TargetRunner.RepositoryRoot(), "scripts", "ceph-minicluster.sh");
        string directory = Path.Combine(Path.GetTempPath(), $"nvmemptls-ceph-{Environment.ProcessId}");
        int port = FreePortPair(23400 + (Environment.ProcessId % 500) * 4);
        var cluster = new CephMiniCluster(script, directory, port);
        if (!File.Exists("/usr/bin/ceph-mon") || !File.Exists("/usr/bin/ceph-osd"))
        {
            if (Environment.UserName != "root" || cluster.Script("install", TimeSpan.FromMinutes(10)).ExitCode != 0 || !File.Exists("/usr/bin/ceph-mon"))
            {
                reason = "needs Debian's ceph-mon, ceph-osd and ceph-common (test.sh installs them as root; 'scripts/ceph-minicluster.sh install')";
                return null;
            }
        }

        // The monitor's ports are checked free just before the start, but another process may take one in between:
        // a bind failure moves to the next free pair (at most three tries).
        var start = cluster.Script("start", TimeSpan.FromMinutes(3));
        for (int attempt = 1; start.ExitCode != 0 && attempt < 3 && start.Output.Contains("Address already in use", StringComparison.Ordinal); attempt++)
        {
            cluster.Dispose();
            port = FreePortPair(port + 4);
            cluster = new CephMiniCluster(script, directory, port);
            start = cluster.Script("start", TimeSpan.FromMinutes(3));
        }

        if (start.ExitCode != 0)
        {
            cluster.Dispose();
            throw new InvalidOperationException($"ceph-minicluster.sh start failed ({start.ExitCode}) on monitor port {port}:\n{start.Output}");
        }

        reason = null;
        return cluster;
    }

    /// <summary>
    /// The first port from <paramref name="first"/> on (in steps of 4, below the kernel's ephemeral range 32768-60999)
    /// where 127.0.0.1 can bind both it and the next one: the monitor's v2 and v1 ports.
    /// </summary>
    private static int FreePortPair(int first)
    {
        for (int port = first; port < 32760; port += 4)
        {
            if (TestPorts.CanBind(port) && TestPorts.CanBind(port + 1))
            {
                return port;
            }
        }

        throw new InvalidOperationException($"no free pair of ports for the Ceph monitor between {first} and 32760");
    }

    /// <summary>Creates an image in pool rbd (e.g. size "64M").</summary>
    public void CreateImage(string name, string size) => Check(Script($"image {name} {size}", TimeSpan.FromMinutes(1)));

    /// <summary>Runs `rbd -c ceph.conf ARGS` and returns its standard output.</summary>
    public string Rbd(string args) => Check(Run("rbd", $"-c {CephConf} {args}", TimeSpan.FromMinutes(2)));

    /// <summary>The id of image <paramref name="name"/> in pool rbd (`rbd info`'s "id:" line).</summary>
    public string ImageId(string name) =>
        Rbd($"info rbd/{name}").Split('\n').Select(l => l.Trim()).First(l => l.StartsWith("id: ", StringComparison.Ordinal))[4..];

    /// <summary>Runs `rados -c ceph.conf ARGS` and returns its standard output.</summary>
    public string Rados(string args) => Check(Run("rados", $"-c {CephConf} {args}", TimeSpan.FromMinutes(1)));

    /// <summary>Runs `ceph -c ceph.conf ARGS` and returns its standard output.</summary>
    public string Ceph(string args) => Check(Run("ceph", $"-c {CephConf} {args}", TimeSpan.FromMinutes(1)));

    public void Dispose() => Script("stop", TimeSpan.FromMinutes(1));

    private (int ExitCode, string Output) Script(string args, TimeSpan timeout) => Run("bash", $"{_script} {args}", timeout);

    private (int ExitCode, string Output) Run(string file, string args, TimeSpan timeout)
    {
        var info = new ProcessStartInfo(file, args) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var (key, value) in _environment)
        {
            info.Environment[key] = value;
        }

        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(timeout))
        {
            process.Kill(entireProcessTree: true);
        }

        process.WaitForExit();
        return (process.ExitCode, stdout.Result + stderr.Result);
    }

    private static string Check((int ExitCode, string Output) result) =>
        result.ExitCode == 0 ? result.Output : throw new InvalidOperationException($"exit {result.ExitCode}: {result.Output}");
}
