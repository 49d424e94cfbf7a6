using System.Diagnostics;
using System.Net;

namespace NvmeMptls.IntegrationTests.TestKit;

/// <summary>
/// Two network namespaces (initiator <c>nvmi-TAG</c>, target <c>nvmt-TAG</c>) joined by N veth paths, built
/// and torn down by scripts/mptcp-testbed.sh. Path k is 198.18.k.1 (initiator) ↔ 198.18.k.2 (target): tests
/// only ever send to these addresses. Pass the namespace names to StreamListener.Bind / StreamConnector.ConnectAsync.
/// </summary>
public sealed class Testbed : IDisposable
{
    private bool _disposed;

    private Testbed(string tag, int paths, string? rate)
    {
        Tag = tag;
        Paths = paths;
        Rate = rate;
    }

    public string Tag { get; }
    public int Paths { get; }
    public string? Rate { get; }
    public string InitiatorNamespace => "nvmi-" + Tag;
    public string TargetNamespace => "nvmt-" + Tag;

    public static IPAddress InitiatorAddress(int path) => new([198, 18, (byte)path, 1]);
    public static IPAddress TargetAddress(int path) => new([198, 18, (byte)path, 2]);

    /// <summary>
    /// Builds the test bed, or marks the test Ignored with the reason (not root, no iproute2, namespaces
    /// refused). Always dispose it (it runs "down", which is idempotent).
    /// </summary>
    public static Testbed UpOrIgnore(string tag, int paths = 2, string? rate = null)
    {
        if (!OperatingSystem.IsLinux())
            Assert.Ignore("the MPTCP test bed needs Linux network namespaces");
        if (!Environment.IsPrivilegedProcess)
            Assert.Ignore("the MPTCP test bed needs root (ip netns add, veth, tc, sysctl)");
        var bed = new Testbed(tag, paths, rate);
        var args = $"up --tag {tag} --paths {paths}" + (rate is null ? "" : $" --rate {rate}");
        var (code, output) = RunScript(args);
        if (code != 0)
        {
            bed.Dispose();
            Assert.Ignore($"could not build the MPTCP test bed (mptcp-testbed.sh {args} exited {code}): {output.Trim()}");
        }
        return bed;
    }

    public void PathDown(int path) => Run($"path-down {path}");
    public void PathUp(int path) => Run($"path-up {path}");
    /// <summary>sysctl net.mptcp.enabled=0 in "initiator" or "target".</summary>
    public void MptcpOff(string side) => Run($"mptcp-off {side}");
    public void MptcpOn(string side) => Run($"mptcp-on {side}");
    public string Status() => Run("status");

    private string Run(string command)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        var (code, output) = RunScript($"{command} --tag {Tag}");
        if (code != 0)
            throw new InvalidOperationException($"mptcp-testbed.sh {command} --tag {Tag} exited {code}: {output.Trim()}");
        return output;
    }

    public void Dispose()
    {
        if (_disposed)
            return;
        _disposed = true;
        RunScript($"down --tag {Tag}");
    }

    public static string ScriptPath
    {
        get
        {
            for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            {
                var candidate = Path.Combine(dir.FullName, "scripts", "mptcp-testbed.sh");
                if (File.Exists(candidate))
                    return candidate;
            }
            throw new FileNotFoundException("scripts/mptcp-testbed.sh not found above " + AppContext.BaseDirectory);
        }
    }

    private static (int Code, string Output) RunScript(string arguments)
    {
        var psi = new ProcessStartInfo("bash", $"{ScriptPath} {arguments}")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var p = Process.Start(psi)!;
        var stderr = p.StandardError.ReadToEndAsync();
        string stdout = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        return (p.ExitCode, stdout + stderr.Result);
    }
}
