using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using NvmeMptls.IntegrationTests.TestKit;

namespace NvmeMptls.IntegrationTests.Soak;

/// <summary>
/// The real service process (nvme-mptls-target.dll) run inside the test bed's target namespace through
/// <c>nsenter --net</c> (which execs, so the child's pid is the target's): a file namespace, TLS required, MPTCP
/// required, on 198.18.1.2. Restarts keep the same file and port. Reads RSS and open descriptors from /proc.
/// </summary>
internal sealed class SoakTarget : IAsyncDisposable
{
    public const string SubsystemNqn = "nqn.2026-01.io.nvmemptls:soak";
    public const int Port = 4420;
    private static readonly TimeSpan StartupLimit = TimeSpan.FromSeconds(90);

    private readonly Testbed _bed;
    private readonly string _image;
    private readonly string _key;
    private readonly long _sizeBytes;
    private readonly bool _memory;
    private readonly StringBuilder _log = new();
    private readonly Lock _gate = new();
    private Process? _process;
    private TaskCompletionSource _serving = NewSignal();

    /// <param name="memory">A memory namespace instead of the file (the negative control: kill -9 loses everything).</param>
    public SoakTarget(Testbed bed, string image, long sizeBytes, string key, bool memory = false)
    {
        _memory = memory;
        _bed = bed;
        _image = image;
        _sizeBytes = sizeBytes;
        _key = key;
    }

    public int Starts { get; private set; }

    public int Pid => _process?.Id ?? throw new InvalidOperationException("the target is not running");

    public string Log
    {
        get
        {
            lock (_gate)
            {
                return _log.ToString();
            }
        }
    }

    /// <summary>Lines the console logger wrote at critical level, and unhandled exceptions: never explained by a fault.</summary>
    public IReadOnlyList<string> CrashLines() =>
        Log.Split('\n').Where(l => l.Contains("crit:", StringComparison.Ordinal)
            || l.Contains("Unhandled exception", StringComparison.Ordinal)
            || l.Contains("OutOfMemory", StringComparison.Ordinal)).ToList();

    /// <summary>The target's own account of its shutdowns (stopping, connections closed, in-flight I/O, stopped).</summary>
    public IEnumerable<string> ShutdownLines() =>
        Log.Split('\n').Where(l => l.Contains("TargetService[500", StringComparison.Ordinal) || l.Contains("Server[3005]", StringComparison.Ordinal)
            || l.Contains("---- soak:", StringComparison.Ordinal));

    /// <summary>Warning and error lines of the target's log counted by level and event ("warn Category[id]"), most frequent first.</summary>
    public string ProblemSummary()
    {
        var counts = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var line in Log.Split('\n'))
        {
            foreach (var level in (string[])["warn:", "fail:", "crit:"])
            {
                var at = line.IndexOf(level, StringComparison.Ordinal);
                if (at < 0)
                {
                    continue;
                }

                var rest = line[(at + level.Length)..].TrimStart();
                var end = rest.IndexOf(']', StringComparison.Ordinal);
                var key = level.TrimEnd(':') + " " + (end > 0 ? rest[..(end + 1)] : rest);
                counts[key] = counts.GetValueOrDefault(key) + 1;
            }
        }

        return counts.Count == 0 ? "none" : string.Join(", ", counts.OrderByDescending(kv => kv.Value).Select(kv => $"{kv.Key} x{kv.Value}"));
    }

    public async Task StartAsync()
    {
        var serving = NewSignal();
        _serving = serving;
        var info = new ProcessStartInfo("nsenter")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        string[] args =
        [
            "--net=/var/run/netns/" + _bed.TargetNamespace, "dotnet", TargetRunner.LocateTargetDll(),
            "--listen", $"{Testbed.TargetAddress(1)}:{Port}", "--discovery", "none", "--metrics", "off",
            "--nqn", SubsystemNqn, _memory ? "--memory-ns" : "--file-ns", _memory ? $"{_sizeBytes}" : $"{_image}:{_sizeBytes}", "--tls", "required", "--tls-key", _key,
            "--multipath", "required",
        ];
        foreach (var a in args)
        {
            info.ArgumentList.Add(a);
        }

        foreach (var key in info.Environment.Keys.Where(k => k.StartsWith("NVMEMPTLS_", StringComparison.Ordinal) || k is "INVOCATION_ID" or "JOURNAL_STREAM").ToList())
        {
            info.Environment.Remove(key);
        }

        info.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        var process = new Process { StartInfo = info, EnableRaisingEvents = true };
        process.OutputDataReceived += (_, e) => OnLine(e.Data);
        process.ErrorDataReceived += (_, e) => OnLine(e.Data);
        process.Exited += (_, _) => serving.TrySetException(new InvalidOperationException("nvme-mptls-target exited before serving"));
        Append($"---- soak: start #{Starts + 1} ----");
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        _process = process;
        Starts++;
        try
        {
            await serving.Task.WaitAsync(StartupLimit).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is TimeoutException or InvalidOperationException)
        {
            throw new AssertionException($"target start #{Starts} failed ({ex.Message}); log:\n{Log}");
        }

        var comm = File.ReadAllText($"/proc/{process.Id}/comm").Trim();
        if (comm != "dotnet")
        {
            throw new AssertionException($"pid {process.Id} is '{comm}', not the dotnet target (nsenter should exec)");
        }
    }

    /// <summary>SIGTERM (systemctl stop); the target must exit 0 within 30 s.</summary>
    public async Task<int> StopGracefullyAsync()
    {
        var process = _process ?? throw new InvalidOperationException("not running");
        Append("---- soak: SIGTERM ----");
        if (Signal(process.Id, 15) != 0)
        {
            throw new InvalidOperationException($"kill(SIGTERM) failed: errno {Marshal.GetLastPInvokeError()}");
        }

        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await process.WaitForExitAsync(cts.Token).ConfigureAwait(false);
        process.WaitForExit();
        _process = null;
        var code = process.ExitCode;
        process.Dispose();
        return code;
    }

    /// <summary>SIGKILL: no shutdown code runs.</summary>
    public async Task KillNineAsync()
    {
        var process = _process ?? throw new InvalidOperationException("not running");
        Append("---- soak: SIGKILL ----");
        if (Signal(process.Id, 9) != 0)
        {
            throw new InvalidOperationException($"kill(SIGKILL) failed: errno {Marshal.GetLastPInvokeError()}");
        }

        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await process.WaitForExitAsync(cts.Token).ConfigureAwait(false);
        process.WaitForExit();
        _process = null;
        process.Dispose();
    }

    /// <summary>Resident set size in bytes (VmRSS of /proc/PID/status).</summary>
    public long ResidentBytes()
    {
        foreach (var line in File.ReadLines($"/proc/{Pid}/status"))
        {
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
            {
                var kb = line["VmRSS:".Length..].Trim().Split(' ')[0];
                return long.Parse(kb, CultureInfo.InvariantCulture) * 1024;
            }
        }

        throw new InvalidOperationException("no VmRSS in /proc/" + Pid + "/status");
    }

    /// <summary>Open file descriptors (entries of /proc/PID/fd).</summary>
    public int OpenDescriptors() => Directory.GetFileSystemEntries($"/proc/{Pid}/fd").Length;

    /// <summary>
    /// What each open descriptor points at (/proc/PID/fd links). The runtime keeps every assembly it loads open
    /// (a .dll), and it loads some only when a code path first runs (an error path, say): those are told apart.
    /// </summary>
    public IReadOnlyList<string> DescriptorTargets()
    {
        var targets = new List<string>();
        foreach (var fd in Directory.GetFileSystemEntries($"/proc/{Pid}/fd"))
        {
            try
            {
                targets.Add(new FileInfo(fd).LinkTarget ?? "?");
            }
            catch (IOException)
            {
                // closed while we looked
            }
        }

        return targets;
    }

    public static bool IsAssembly(string target) =>
        target.EndsWith(".dll", StringComparison.Ordinal) || target.EndsWith(".pdb", StringComparison.Ordinal);

    /// <summary>Distinct exception lines in the target's log ("SomethingException: message"), with counts.</summary>
    public string ExceptionSummary()
    {
        var counts = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var line in Log.Split('\n'))
        {
            var trimmed = line.Trim();
            var colon = trimmed.IndexOf(": ", StringComparison.Ordinal);
            if (colon > 0 && trimmed[..colon].EndsWith("Exception", StringComparison.Ordinal) && !trimmed[..colon].Contains(' ', StringComparison.Ordinal))
            {
                var key = trimmed.Length > 160 ? trimmed[..160] : trimmed;
                counts[key] = counts.GetValueOrDefault(key) + 1;
            }
        }

        return counts.Count == 0 ? "none" : string.Join("; ", counts.OrderByDescending(kv => kv.Value).Take(8).Select(kv => $"{kv.Key} x{kv.Value}"));
    }

    /// <summary>
    /// What the target's descriptors are (sockets, pipes, event fds, files, counted by kind) and its TCP and MPTCP
    /// sockets by state: the evidence when the count is above the baseline.
    /// </summary>
    public string DescriptorReport()
    {
        var kinds = new SortedDictionary<string, int>(StringComparer.Ordinal);
        foreach (var fd in Directory.GetFileSystemEntries($"/proc/{Pid}/fd"))
        {
            string kind;
            try
            {
                var link = new FileInfo(fd).LinkTarget ?? "?";
                kind = link.StartsWith("socket:", StringComparison.Ordinal) ? "socket"
                    : link.StartsWith("anon_inode:", StringComparison.Ordinal) ? link
                    : link.StartsWith("pipe:", StringComparison.Ordinal) ? "pipe" : "file";
            }
            catch (IOException)
            {
                kind = "gone";
            }

            kinds[kind] = kinds.GetValueOrDefault(kind) + 1;
        }

        var states = SocketStates();
        return "fds " + string.Join(", ", kinds.Select(kv => $"{kv.Key} {kv.Value}")) + "; sockets " + string.Join(", ", states.Select(kv => $"{kv.Key} {kv.Value}"));
    }

    /// <summary>The target's sockets counted by "tcp STATE" (subflows, listener) and "mptcp STATE".</summary>
    public SortedDictionary<string, int> SocketStates()
    {
        var states = new SortedDictionary<string, int>(StringComparer.Ordinal);
        foreach (var netid in (string[])["-t", "-M"])
        {
            foreach (var line in Ss($"-Hanp {netid}").Split('\n').Where(l => l.Contains($"pid={Pid},", StringComparison.Ordinal)))
            {
                var state = line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[0];
                var key = (netid == "-M" ? "mptcp " : "tcp ") + state;
                states[key] = states.GetValueOrDefault(key) + 1;
            }
        }

        return states;
    }

    private string Ss(string args)
    {
        var psi = new ProcessStartInfo("ip") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in $"netns exec {_bed.TargetNamespace} ss {args}".Split(' '))
        {
            psi.ArgumentList.Add(a);
        }

        using var p = Process.Start(psi)!;
        var stderr = p.StandardError.ReadToEndAsync();
        var text = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        _ = stderr.Result;
        return text;
    }

    public async ValueTask DisposeAsync()
    {
        var process = _process;
        _process = null;
        if (process is null)
        {
            return;
        }

        try
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
                await process.WaitForExitAsync().ConfigureAwait(false);
            }
        }
        catch (InvalidOperationException)
        {
            // already gone
        }

        process.Dispose();
    }

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    private void OnLine(string? line)
    {
        if (line is null)
        {
            return;
        }

        Append(line);
        if (line.StartsWith(TargetRunner.ServingBanner, StringComparison.Ordinal))
        {
            _serving.TrySetResult();
        }
    }

    private void Append(string line)
    {
        lock (_gate)
        {
            _log.Append(DateTime.UtcNow.ToString("HH:mm:ss.fff ", CultureInfo.InvariantCulture)).Append(line).Append('\n');
        }
    }

#pragma warning disable SYSLIB1054 // LibraryImport needs unsafe code in the test project; kill(2) is blittable anyway
    [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static extern int Signal(int pid, int signal);
#pragma warning restore SYSLIB1054
}
