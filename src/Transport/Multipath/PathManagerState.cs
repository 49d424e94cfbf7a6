using System.Diagnostics;
using System.Globalization;
using System.Net;

namespace NvmeMptls.Transport.Multipath;

/// <summary>Flags of an in-kernel path-manager endpoint (MPTCP_PM_ADDR_FLAG_*).</summary>
[Flags]
public enum MptcpEndpointFlags
{
    None = 0,
    /// <summary>Announced to the peer with ADD_ADDR.</summary>
    Signal = 1 << 0,
    /// <summary>Used as the source of additional subflows this host opens.</summary>
    Subflow = 1 << 1,
    Backup = 1 << 2,
    Fullmesh = 1 << 3,
    Implicit = 1 << 4,
}

/// <summary>One line of <c>ip mptcp endpoint show</c>.</summary>
public sealed record MptcpEndpoint(IPAddress Address, int Id, int? Port, string? Device, MptcpEndpointFlags Flags);

/// <summary>
/// The in-kernel path manager's configuration in one network namespace: sysctls, endpoints and limits,
/// read through iproute2 (<c>ip [-n NS] mptcp endpoint|limits show</c>).
/// </summary>
public sealed record PathManagerState(
    bool Enabled,
    string PathManager,
    IReadOnlyList<MptcpEndpoint> Endpoints,
    int SubflowsLimit,
    int AddAddrAcceptedLimit)
{
    /// <summary>Reads the state of <paramref name="networkNamespace"/> (null: the namespace of this process).</summary>
    public static PathManagerState Read(string? networkNamespace = null)
    {
        string enabled = ReadSysctl(networkNamespace, "enabled") ?? "0";
        string pm = ReadSysctl(networkNamespace, "path_manager") ?? (ReadSysctl(networkNamespace, "pm_type") == "1" ? "userspace" : "kernel");
        string ns = networkNamespace is null ? "" : $"-n {networkNamespace} ";
        return Parse(enabled == "1", pm, RunIp(ns + "mptcp endpoint show"), RunIp(ns + "mptcp limits show"));
    }

    /// <summary>Parses iproute2 output (as printed by iproute2 5.x and 6.x).</summary>
    public static PathManagerState Parse(bool enabled, string pathManager, string endpointsText, string limitsText)
    {
        var endpoints = new List<MptcpEndpoint>();
        foreach (var line in endpointsText.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var words = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (words.Length == 0 || !IPAddress.TryParse(words[0], out var address))
                throw new FormatException($"unexpected 'ip mptcp endpoint show' line: '{line}'");
            int id = 0;
            int? port = null;
            string? device = null;
            var flags = MptcpEndpointFlags.None;
            for (int i = 1; i < words.Length; i++)
            {
                switch (words[i])
                {
                    case "id" when i + 1 < words.Length: id = int.Parse(words[++i], CultureInfo.InvariantCulture); break;
                    case "port" when i + 1 < words.Length: port = int.Parse(words[++i], CultureInfo.InvariantCulture); break;
                    case "dev" when i + 1 < words.Length: device = words[++i]; break;
                    case "signal": flags |= MptcpEndpointFlags.Signal; break;
                    case "subflow": flags |= MptcpEndpointFlags.Subflow; break;
                    case "backup": flags |= MptcpEndpointFlags.Backup; break;
                    case "fullmesh": flags |= MptcpEndpointFlags.Fullmesh; break;
                    case "implicit": flags |= MptcpEndpointFlags.Implicit; break;
                }
            }
            endpoints.Add(new MptcpEndpoint(address, id, port, device, flags));
        }

        int subflows = 0, accepted = 0;
        var limitWords = limitsText.Split((char[])[' ', '\n', '\t'], StringSplitOptions.RemoveEmptyEntries);
        for (int i = 0; i + 1 < limitWords.Length; i++)
        {
            if (limitWords[i] == "subflows" || limitWords[i] == "subflow")
                subflows = int.Parse(limitWords[++i], CultureInfo.InvariantCulture);
            else if (limitWords[i] == "add_addr_accepted")
                accepted = int.Parse(limitWords[++i], CultureInfo.InvariantCulture);
        }
        return new PathManagerState(enabled, pathManager, endpoints, subflows, accepted);
    }

    /// <summary>
    /// Plain-English reasons why a connection from this host cannot reach <paramref name="wantedPaths"/> paths
    /// (the initial subflow counts as one); empty when nothing stands in the way on this side.
    /// </summary>
    public IReadOnlyList<string> WarningsFor(int wantedPaths)
    {
        var warnings = new List<string>();
        if (!Enabled)
        {
            warnings.Add("MPTCP is disabled here (sysctl net.mptcp.enabled=0): every connection is plain TCP on one path. "
                + "Enable it with: sysctl -w net.mptcp.enabled=1");
            return warnings;
        }
        if (PathManager != "kernel")
        {
            warnings.Add($"the '{PathManager}' path manager is selected (net.mptcp.path_manager): the in-kernel endpoints and "
                + "limits below are ignored and a daemon (e.g. mptcpd) must create the extra subflows");
        }
        int extra = wantedPaths - 1;
        if (extra <= 0)
            return warnings;
        if (SubflowsLimit < extra)
        {
            warnings.Add($"the subflow limit is {SubflowsLimit}, so at most {SubflowsLimit + 1} path(s) can be used, not {wantedPaths}: "
                + $"ip mptcp limits set subflows {extra} add_addr_accepted {Math.Max(extra, AddAddrAcceptedLimit)}");
        }
        int subflowEndpoints = 0;
        foreach (var e in Endpoints)
        {
            if ((e.Flags & MptcpEndpointFlags.Subflow) != 0)
                subflowEndpoints++;
        }
        if (subflowEndpoints == 0 && AddAddrAcceptedLimit == 0)
        {
            warnings.Add("no endpoint has the 'subflow' flag and add_addr_accepted is 0, so no extra subflow will ever be opened: "
                + "add one endpoint per extra interface (ip mptcp endpoint add ADDR dev IFACE subflow), or let the peer "
                + "announce its addresses ('signal') and raise add_addr_accepted");
        }
        else if (subflowEndpoints < extra && AddAddrAcceptedLimit < extra)
        {
            warnings.Add($"only {subflowEndpoints} 'subflow' endpoint(s) and add_addr_accepted {AddAddrAcceptedLimit}: fewer than the "
                + $"{extra} extra subflow(s) needed for {wantedPaths} paths");
        }
        return warnings;
    }

    private static string? ReadSysctl(string? networkNamespace, string name)
    {
        string path = "/proc/sys/net/mptcp/" + name;
        if (networkNamespace is null)
            return File.Exists(path) ? File.ReadAllText(path).Trim() : null;
        // /proc/sys/net shows the namespace of the process that opens it, so ask from inside.
        try
        {
            return RunProcess("ip", $"netns exec {networkNamespace} cat {path}").Trim();
        }
        catch (InvalidOperationException)
        {
            return null;
        }
    }

    private static string RunIp(string arguments) => RunProcess("ip", arguments);

    private static string RunProcess(string file, string arguments)
    {
        var psi = new ProcessStartInfo(file, arguments) { RedirectStandardOutput = true, RedirectStandardError = true };
        using var p = Process.Start(psi) ?? throw new InvalidOperationException($"cannot start {file}");
        var stdout = p.StandardOutput.ReadToEndAsync();
        string stderr = p.StandardError.ReadToEnd();
        p.WaitForExit();
        if (p.ExitCode != 0)
            throw new InvalidOperationException($"'{file} {arguments}' failed ({p.ExitCode}): {stderr.Trim()}");
        return stdout.Result;
    }
}
