using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;

namespace NvmeMptls.IntegrationTests.TestKit;

/// <summary>
/// The built target (<c>src/Target/bin/Release/net10.0/nvme-mptls-target.dll</c>) run as a child process, with its
/// output captured, readiness taken from the "is serving" banner and SIGTERM sent like systemd or Ctrl-C would.
/// </summary>
public sealed class TargetProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _stdout = new();
    private readonly StringBuilder _stderr = new();
    private readonly TaskCompletionSource _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private TargetProcess(Process process)
    {
        _process = process;
    }

    /// <summary>The built service (a missing build fails the test: the solution is built before the tests run).</summary>
    public static string TargetDll => TargetRunner.LocateTargetDll();

    public static string RepositoryRoot
    {
        get
        {
            var dir = new DirectoryInfo(TestContext.CurrentContext.TestDirectory);
            while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "NvmeMptls.sln")))
            {
                dir = dir.Parent;
            }

            return dir?.FullName ?? throw new DirectoryNotFoundException("NvmeMptls.sln not found above the test directory");
        }
    }

    public int Id => _process.Id;

    public string StandardOutput
    {
        get
        {
            lock (_stdout)
            {
                return _stdout.ToString();
            }
        }
    }

    public string StandardError
    {
        get
        {
            lock (_stderr)
            {
                return _stderr.ToString();
            }
        }
    }

    /// <summary>Starts the target; call <see cref="WaitReadyAsync"/> before connecting.</summary>
    public static TargetProcess Start(IEnumerable<string> args, IDictionary<string, string>? environment = null)
    {
        var psi = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        psi.ArgumentList.Add(TargetDll);
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }

        // Keep the child's configuration to what the test gives it.
        foreach (var key in psi.Environment.Keys.Where(k => k.StartsWith("NVMEMPTLS_", StringComparison.Ordinal) || k is "INVOCATION_ID" or "JOURNAL_STREAM").ToList())
        {
            psi.Environment.Remove(key);
        }

        foreach (var (k, v) in environment ?? new Dictionary<string, string>())
        {
            psi.Environment[k] = v;
        }

        var process = new Process { StartInfo = psi, EnableRaisingEvents = true };
        var target = new TargetProcess(process);
        process.OutputDataReceived += (_, e) => target.OnLine(e.Data, stdout: true);
        process.ErrorDataReceived += (_, e) => target.OnLine(e.Data, stdout: false);
        process.Exited += (_, _) => target._ready.TrySetException(new InvalidOperationException("the target exited before it was ready"));
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return target;
    }

    private void OnLine(string? line, bool stdout)
    {
        if (line is null)
        {
            return;
        }

        var sb = stdout ? _stdout : _stderr;
        lock (sb)
        {
            sb.AppendLine(line);
        }

        if (stdout && line.Contains("Application started", StringComparison.Ordinal))
        {
            _ready.TrySetResult();
        }
    }

    public async Task WaitReadyAsync(TimeSpan timeout)
    {
        try
        {
            await _ready.Task.WaitAsync(timeout).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is TimeoutException or InvalidOperationException)
        {
            Assert.Fail($"target not ready: {ex.Message}\nstdout:\n{StandardOutput}\nstderr:\n{StandardError}");
        }
    }

    /// <summary>Waits for exit and returns the exit code.</summary>
    public async Task<int> WaitForExitAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        await _process.WaitForExitAsync(cts.Token).ConfigureAwait(false);
        return _process.ExitCode;
    }

    /// <summary>Sends SIGTERM, as <c>systemctl stop</c> or <c>kill</c> does.</summary>
    public void Terminate()
    {
        if (Kill(_process.Id, 15) != 0)
        {
            throw new InvalidOperationException($"kill(SIGTERM) failed: errno {Marshal.GetLastPInvokeError()}");
        }
    }

    /// <summary>A loopback TCP port free now and not handed out before in this run (<see cref="TestPorts"/>).</summary>
    public static int FreePort() => TestPorts.Next();

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync().ConfigureAwait(false);
        }

        _process.Dispose();
    }

#pragma warning disable SYSLIB1054 // LibraryImport needs unsafe code in the test project; kill(2) is blittable anyway
    [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static extern int Kill(int pid, int signal);
#pragma warning restore SYSLIB1054
}
