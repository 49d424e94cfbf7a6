using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace NvmeMptls.IntegrationTests.TestKit;

/// <summary>
/// Runs our target (nvme-mptls-target.dll) as a child process on free loopback ports, waits for its
/// "nvme-mptls-target is serving" banner, captures its log and can restart it on the same ports.
/// </summary>
public sealed class TargetRunner : IDisposable
{
    public const string ServingBanner = "nvme-mptls-target is serving";
    private static readonly TimeSpan StartupLimit = TimeSpan.FromSeconds(60);

    private readonly string _dll;
    private readonly IReadOnlyList<string> _arguments;
    private readonly StringBuilder _log = new();
    private readonly Lock _gate = new();
    private Process? _process;
    private TaskCompletionSource _serving = NewSignal();

    private TargetRunner(string dll, int port, int discoveryPort, IReadOnlyList<string> extraArguments)
    {
        _dll = dll;
        Port = port;
        DiscoveryPort = discoveryPort;
        var arguments = new List<string>
        {
            dll, "--listen", $"127.0.0.1:{port}", "--discovery", $"127.0.0.1:{discoveryPort}", "--metrics", "off",
        };
        arguments.AddRange(extraArguments);
        _arguments = arguments;
    }

    public int Port { get; }

    public int DiscoveryPort { get; }

    public int Starts { get; private set; }

    /// <summary>Everything the target wrote to stdout and stderr, over all its starts.</summary>
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

    /// <summary>Starts the target on two free loopback ports with the given extra flags.</summary>
    public static async Task<TargetRunner> StartAsync(params string[] extraArguments)
    {
        var runner = new TargetRunner(LocateTargetDll(), FreePort(), FreePort(), extraArguments);
        try
        {
            await runner.LaunchAsync().ConfigureAwait(false);
        }
        catch
        {
            runner.Dispose();
            throw;
        }

        return runner;
    }

    /// <summary>Kills the target (SIGKILL, no graceful shutdown) and starts it again on the same ports.</summary>
    public async Task RestartAsync()
    {
        Kill();
        Append("---- test: target killed, restarting on the same ports ----");
        await LaunchAsync().ConfigureAwait(false);
    }

    /// <summary>Log lines at warning level or worse ("warn:", "fail:", "crit:" from the console logger).</summary>
    public IReadOnlyList<string> ProblemLines() =>
        Log.Split('\n').Where(l => l.Contains(" warn: ", StringComparison.Ordinal)
            || l.Contains(" fail: ", StringComparison.Ordinal)
            || l.Contains(" crit: ", StringComparison.Ordinal)
            || l.Contains("Unhandled exception", StringComparison.Ordinal)).ToList();

    public void Dispose()
    {
        Kill();
    }

    /// <summary>nvme-mptls-target.dll next to this test assembly's build configuration (Release or Debug).</summary>
    public static string LocateTargetDll()
    {
        string root = RepositoryRoot();
        string configuration = TestContext.CurrentContext.TestDirectory.Contains("/Debug/", StringComparison.Ordinal) ? "Debug" : "Release";
        foreach (string candidate in new[] { configuration, configuration == "Release" ? "Debug" : "Release" })
        {
            string dll = Path.Combine(root, "src", "Target", "Service", "bin", candidate, "net10.0", "nvme-mptls-target.dll");
            if (File.Exists(dll))
            {
                return dll;
            }
        }

        throw new FileNotFoundException($"nvme-mptls-target.dll not built under {root}/src/Target/Service/bin (run scripts/interop.sh)");
    }

    /// <summary>The folder holding NvmeMptls.sln, searched upwards from the test assembly.</summary>
    public static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(TestContext.CurrentContext.TestDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "NvmeMptls.sln")))
            {
                return dir.FullName;
            }
        }

        throw new DirectoryNotFoundException("NvmeMptls.sln not found above " + TestContext.CurrentContext.TestDirectory);
    }

    /// <summary>A loopback TCP port free now and not handed out before in this run (<see cref="TestPorts"/>).</summary>
    public static int FreePort() => TestPorts.Next();

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    private async Task LaunchAsync()
    {
        var serving = NewSignal();
        _serving = serving;
        var info = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string argument in _arguments)
        {
            info.ArgumentList.Add(argument);
        }

        info.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        var process = new Process { StartInfo = info, EnableRaisingEvents = true };
        process.OutputDataReceived += (_, e) => OnLine(e.Data);
        process.ErrorDataReceived += (_, e) => OnLine(e.Data);
        process.Exited += (_, _) => serving.TrySetException(
            new InvalidOperationException($"nvme-mptls-target exited before serving; log:\n{Log}"));
        Append($"---- test: dotnet {string.Join(' ', _arguments)} ----");
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        _process = process;
        Starts++;

        Task finished = await Task.WhenAny(serving.Task, Task.Delay(StartupLimit)).ConfigureAwait(false);
        if (finished != serving.Task)
        {
            throw new TimeoutException($"nvme-mptls-target did not print \"{ServingBanner}\"; log:\n{Log}");
        }

        await serving.Task.ConfigureAwait(false);
    }

    private void OnLine(string? line)
    {
        if (line is null)
        {
            return;
        }

        Append(line);
        if (line.StartsWith(ServingBanner, StringComparison.Ordinal))
        {
            _serving.TrySetResult();
        }
    }

    private void Append(string line)
    {
        lock (_gate)
        {
            _log.Append(line).Append('\n');
        }
    }

    private void Kill()
    {
        Process? process = _process;
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
                process.WaitForExit();
            }
        }
        catch (InvalidOperationException)
        {
            // already gone
        }

        process.Dispose();
    }
}
