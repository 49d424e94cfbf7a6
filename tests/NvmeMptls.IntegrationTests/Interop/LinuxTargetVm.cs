using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace NvmeMptls.IntegrationTests.Interop;

/// <summary>
/// The Linux kernel NVMe/TCP target (nvmet) in a throw-away qemu guest, from the shared harness
/// (shared/interop/linux-vm/run-vm.sh target). Reachable on 127.0.0.1:<see cref="Port"/>.
/// </summary>
public sealed class LinuxTargetVm : IAsyncDisposable
{
    public const string SubsystemNqn = "nqn.2014-08.org.nvmexpress:nvmevm-target";
    private static readonly string Script = NvmeMptls.IntegrationTests.TestKit.LinuxVm.LocateHarness() ?? "/work/shared/interop/linux-vm/run-vm.sh";

    private readonly Process _process;
    private readonly StringBuilder _console = new();

    private LinuxTargetVm(Process process, int port)
    {
        _process = process;
        Port = port;
    }

    public int Port { get; }

    private string Console
    {
        get
        {
            lock (_console)
            {
                return _console.ToString();
            }
        }
    }

    public string ConsoleTail
    {
        get
        {
            lock (_console)
            {
                var text = _console.ToString();
                return text.Length > 4000 ? text[^4000..] : text;
            }
        }
    }

    /// <summary>Why the VM cannot run here, or null when it can.</summary>
    public static string? Unavailable()
    {
        if (!OperatingSystem.IsLinux())
        {
            return "the Linux target VM needs a Linux host";
        }

        if (!File.Exists(Script))
        {
            return $"{Script} is not present";
        }

        if (Environment.UserName != "root")
        {
            return "the Linux target VM harness needs root (it installs qemu with apt-get)";
        }

        return null;
    }

    /// <summary>
    /// A fixture's boot: ignores the fixture (with the reason) when the VM cannot run here or does not come up in
    /// time, otherwise returns the running guest. <paramref name="what"/> names it in the ignore message.
    /// </summary>
    public static async Task<LinuxTargetVm> BootOrIgnoreAsync(Func<Task<LinuxTargetVm>> start, string what = "the Linux target VM")
    {
        if (Unavailable() is { } reason)
        {
            Assert.Ignore(reason);
        }

        try
        {
            return await start();
        }
        catch (TimeoutException ex)
        {
            Assert.Ignore($"{what} did not come up: {ex.Message}");
            throw;
        }
    }

    /// <summary>Boots the guest and waits for its ready line (or gives up after <paramref name="bootLimit"/>).</summary>
    public static async Task<LinuxTargetVm> StartAsync(TimeSpan bootLimit, int durationSeconds = 900) =>
        await StartAsync(bootLimit, durationSeconds, []);

    /// <summary>
    /// Boots a guest of Debian <paramref name="suite"/> (trixie: kernel 6.12, tlshd 1.0, GnuTLS 3.8.9; forky: kernel
    /// 7.2, tlshd 1.4, GnuTLS 3.8.13) whose nvmet port requires TLS 1.3 with <paramref name="key"/>, retained PSKs
    /// inserted for <paramref name="hostNqn"/> by the guest's nvme-cli.
    /// </summary>
    public static Task<LinuxTargetVm> StartTlsAsync(TimeSpan bootLimit, string hostNqn, string key, string suite = "trixie", int durationSeconds = 600) =>
        StartAsync(bootLimit, durationSeconds, ["--suite", suite, "--tls", "--hostnqn", hostNqn, "--tls-key", key]);

    private const string TargetSetupAnchor = "nvmet_setup \"$NQN\" 0.0.0.0 4420 $TLS || { msg \"nvmet setup FAILED\"; dmesg | tail -n 20; exit 1; }\n";

    /// <summary>
    /// Boots a guest of Debian <paramref name="suite"/> whose nvmet subsystem, once set up, is changed by
    /// <paramref name="setupShell"/> (busybox sh run in the target script right after nvmet_setup, with $NVMET and
    /// $NQN set; a failure stops the guest). Used for per-host configfs settings such as DH-HMAC-CHAP keys.
    /// </summary>
    public static Task<LinuxTargetVm> StartWithSetupAsync(TimeSpan bootLimit, string suite, string setupShell, int durationSeconds = 600)
    {
        string text = File.ReadAllText(NvmeMptls.IntegrationTests.TestKit.LinuxVm.Harness());
        if (!text.Contains(TargetSetupAnchor, StringComparison.Ordinal))
        {
            Assert.Fail($"{Script}: the target mode's nvmet_setup line changed; cannot add the setup");
        }

        string harness = Path.Combine(Path.GetTempPath(), $"nvme-iop-run-vm.setup.{Environment.ProcessId}.{Guid.NewGuid():N}.sh");
        File.WriteAllText(harness, text.Replace(TargetSetupAnchor, TargetSetupAnchor +
            "{\n" + setupShell + "\n} || { msg \"extra setup FAILED\"; dmesg | tail -n 20; exit 1; }\n", StringComparison.Ordinal));
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(harness, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }

        return StartAsync(bootLimit, durationSeconds, ["--suite", suite], harness);
    }

    private static async Task<LinuxTargetVm> StartAsync(TimeSpan bootLimit, int durationSeconds, string[] extra, string? harness = null)
    {
        var boot = await NvmeMptls.IntegrationTests.TestKit.LinuxVm.BootOnceMoreAfterEarlyCrashAsync(
            () => StartOnceAsync(bootLimit, durationSeconds, extra, harness), b => b.Vm is null ? b.Console.Split('\n') : []);
        return boot.Vm ?? throw new TimeoutException(boot.Failure);
    }

    /// <summary>A booted VM, or why it did not come up and everything it printed.</summary>
    private readonly record struct Boot(LinuxTargetVm? Vm, string Failure, string Console);

    private static async Task<Boot> StartOnceAsync(TimeSpan bootLimit, int durationSeconds, string[] extra, string? harness)
    {
        var port = FreePort();
        var ready = Path.Combine(Path.GetTempPath(), $"initiator-nvmet-{port}-{Environment.ProcessId}.ready");
        File.Delete(ready);
        var info = new ProcessStartInfo(harness ?? NvmeMptls.IntegrationTests.TestKit.LinuxVm.Harness())
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in extra)
        {
            info.ArgumentList.Add(arg);
        }

        foreach (var arg in new[] { "target", "--port", port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--duration", durationSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture), "--ready-file", ready })
        {
            info.ArgumentList.Add(arg);
        }

        var process = Process.Start(info) ?? throw new IOException($"cannot start {Script}");
        var vm = new LinuxTargetVm(process, port);
        process.OutputDataReceived += (_, e) => vm.Append(e.Data);
        process.ErrorDataReceived += (_, e) => vm.Append(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var deadline = DateTime.UtcNow + bootLimit;
        while (!File.Exists(ready) || new FileInfo(ready).Length == 0)
        {
            if (process.HasExited || DateTime.UtcNow > deadline)
            {
                var why = process.HasExited ? $"exited with {process.ExitCode}" : $"not ready within {bootLimit.TotalSeconds:0} s";
                await vm.DisposeAsync();
                return new Boot(null, $"Linux target VM {why}:\n{vm.ConsoleTail}", vm.Console);
            }

            await Task.Delay(200);
        }

        File.Delete(ready);
        return new Boot(vm, "", "");
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            // SIGTERM to the script stops qemu (README: "A SIGINT or SIGTERM to the script stops qemu").
            using var kill = Process.Start("kill", ["-TERM", _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
            if (kill is not null)
            {
                await kill.WaitForExitAsync();
            }

            using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(20));
            try
            {
                await _process.WaitForExitAsync(limit.Token);
            }
            catch (OperationCanceledException)
            {
                _process.Kill(entireProcessTree: true);
            }
        }

        _process.Dispose();
    }

    private void Append(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_console)
        {
            _console.AppendLine(line);
        }
    }

    private static int FreePort()
    {
        for (var port = 14440 + (Environment.ProcessId % 40); port < 14500; port++)
        {
            try
            {
                using var probe = new TcpListener(IPAddress.Loopback, port);
                probe.Start();
                probe.Stop();
                return port;
            }
            catch (SocketException)
            {
                // taken: next
            }
        }

        throw new IOException("no free port in 14440..14499");
    }
}
