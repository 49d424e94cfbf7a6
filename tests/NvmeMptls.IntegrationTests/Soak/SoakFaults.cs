using System.Diagnostics;
using NvmeMptls.IntegrationTests.TestKit;

namespace NvmeMptls.IntegrationTests.Soak;

/// <summary>
/// Network faults of the soak, on the initiator side of the test bed: a path's link down and up, path 2's address
/// (and its MPTCP subflow endpoint) deleted and added back, one subflow killed with <c>ss -K</c>, or every
/// connection to the target port killed at once. Each fault is recorded as a window in <see cref="SoakErrors"/>.
/// </summary>
internal sealed class SoakFaults(Testbed bed, SoakErrors errors)
{
    public int PathFlaps;
    public int AddressFlaps;
    public int SubflowCuts;
    public int ConnectionCuts;
    public int SocketsKilled;

    /// <summary>One random fault; returns its description.</summary>
    public async Task<string> InjectOneAsync(Random random)
    {
        var pick = random.Next(100);
        return pick switch
        {
            < 35 => await FlapPathAsync(2, TimeSpan.FromMilliseconds(1500 + random.Next(2000))).ConfigureAwait(false),
            < 45 => await FlapPathAsync(1, TimeSpan.FromMilliseconds(1000 + random.Next(1500))).ConfigureAwait(false),
            < 60 => await FlapAddressAsync(TimeSpan.FromMilliseconds(1500 + random.Next(2000))).ConfigureAwait(false),
            < 80 => CutSubflow(random),
            _ => CutAll(),
        };
    }

    public async Task<string> FlapPathAsync(int path, TimeSpan down)
    {
        var start = DateTime.UtcNow;
        bed.PathDown(path);
        try
        {
            await Task.Delay(down).ConfigureAwait(false);
        }
        finally
        {
            bed.PathUp(path);
            errors.Fault($"path {path} flap", start);
        }

        Interlocked.Increment(ref PathFlaps);
        return $"path {path} down {down.TotalSeconds:0.0} s";
    }

    /// <summary>Deletes the initiator's path-2 address and subflow endpoint, then adds both back.</summary>
    public async Task<string> FlapAddressAsync(TimeSpan gone)
    {
        var address = $"{Testbed.InitiatorAddress(2)}";
        var dev = $"vi2-{bed.Tag}";
        var start = DateTime.UtcNow;
        Ip($"mptcp endpoint flush");
        Ip($"addr del {address}/24 dev {dev}");
        try
        {
            await Task.Delay(gone).ConfigureAwait(false);
        }
        finally
        {
            Ip($"addr add {address}/24 dev {dev}");
            Ip($"mptcp endpoint add {address} dev {dev} subflow");
            errors.Fault("address delete/re-add", start);
        }

        Interlocked.Increment(ref AddressFlaps);
        return $"address {address} gone {gone.TotalSeconds:0.0} s";
    }

    /// <summary>Kills one established subflow (a TCP socket of an MPTCP connection) to the target port.</summary>
    public string CutSubflow(Random random)
    {
        var start = DateTime.UtcNow;
        var lines = Ss($"-tnH state established ( dport = :{SoakTarget.Port} )").Split('\n', StringSplitOptions.RemoveEmptyEntries);
        if (lines.Length == 0)
        {
            return "subflow cut: no subflow to cut";
        }

        var fields = lines[random.Next(lines.Length)].Split(' ', StringSplitOptions.RemoveEmptyEntries);
        var local = fields[^2];
        var port = local[(local.LastIndexOf(':') + 1)..];
        var killed = Killed(Ss($"-K -tn state established ( sport = :{port} and dport = :{SoakTarget.Port} )"));
        errors.Fault("subflow cut", start);
        Interlocked.Increment(ref SubflowCuts);
        Interlocked.Add(ref SocketsKilled, killed);
        return $"subflow {local} cut ({killed} socket)";
    }

    /// <summary>Kills every subflow to the target port: every connection of every queue is reset.</summary>
    public string CutAll()
    {
        var start = DateTime.UtcNow;
        var killed = Killed(Ss($"-K -tn ( dport = :{SoakTarget.Port} )"));
        errors.Fault("all connections cut", start);
        Interlocked.Increment(ref ConnectionCuts);
        Interlocked.Add(ref SocketsKilled, killed);
        return $"all connections cut ({killed} sockets)";
    }

    /// <summary>Puts everything back (after a failure in the middle of a fault).</summary>
    public void Restore()
    {
        bed.PathUp(1);
        bed.PathUp(2);
        var address = $"{Testbed.InitiatorAddress(2)}";
        var dev = $"vi2-{bed.Tag}";
        Run("ip", $"-n {bed.InitiatorNamespace} addr replace {address}/24 dev {dev}", check: false);
        if (!Ip("mptcp endpoint show").Contains(address, StringComparison.Ordinal))
        {
            Ip($"mptcp endpoint add {address} dev {dev} subflow");
        }
    }

    private static int Killed(string ssOutput) =>
        ssOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries).Count(l => !l.StartsWith("State", StringComparison.Ordinal) && !l.StartsWith("Recv-Q", StringComparison.Ordinal));

    private string Ip(string args) => Run("ip", $"-n {bed.InitiatorNamespace} {args}", check: true);

    private string Ss(string args) => Run("ip", $"netns exec {bed.InitiatorNamespace} ss {args}", check: true);

    private static string Run(string file, string args, bool check)
    {
        var psi = new ProcessStartInfo(file)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var a in args.Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            psi.ArgumentList.Add(a);
        }

        using var p = Process.Start(psi)!;
        var stderr = p.StandardError.ReadToEndAsync();
        var stdout = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        if (check && p.ExitCode != 0)
        {
            throw new InvalidOperationException($"{file} {args} exited {p.ExitCode}: {stdout}{stderr.Result}");
        }

        return stdout;
    }
}
