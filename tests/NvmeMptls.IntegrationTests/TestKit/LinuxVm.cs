using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace NvmeMptls.IntegrationTests.TestKit;

/// <summary>
/// Boots the shared Linux kernel VM harness (shared/interop/linux-vm/run-vm.sh) in "run" mode with a guest
/// script built from Interop/guest/*.sh, and answers the guest's sync requests (NVMEIOP-SYNC) on a loopback port.
/// </summary>
public static class LinuxVm
{
    private const string RunModeNetworkLine = "    host) ;;";
    private static readonly Lock PatchGate = new();
    private static string? _openHarness;

    /// <summary>run-vm.sh: ../shared/interop/linux-vm next to the repository, else /work/shared/interop/linux-vm.</summary>
    public static string? LocateHarness()
    {
        string? root = null;
        try
        {
            root = TargetRunner.RepositoryRoot();
        }
        catch (DirectoryNotFoundException)
        {
        }

        var candidates = new List<string>();
        if (root is not null)
        {
            candidates.Add(Path.GetFullPath(Path.Combine(root, "..", "shared", "interop", "linux-vm", "run-vm.sh")));
        }

        candidates.Add("/work/shared/interop/linux-vm/run-vm.sh");
        return candidates.FirstOrDefault(File.Exists);
    }

    /// <summary>Why the VM tests cannot run here, or null when they can.</summary>
    public static string? SkipReason()
    {
        if (!OperatingSystem.IsLinux())
        {
            return "the Linux VM harness needs Linux";
        }

        if (!Environment.IsPrivilegedProcess)
        {
            return "the Linux VM harness (run-vm.sh) must run as root";
        }

        if (LocateHarness() is null)
        {
            return "run-vm.sh not found: neither ../shared/interop/linux-vm/run-vm.sh next to the repository nor /work/shared/interop/linux-vm/run-vm.sh";
        }

        if (!OnPath("qemu-system-x86_64") && !OnPath("apt-get"))
        {
            return "qemu-system-x86_64 is missing and apt-get is not available to install it";
        }

        return null;
    }

    public static void IgnoreUnlessAvailable()
    {
        string? reason = SkipReason();
        if (reason is not null)
        {
            Assert.Ignore(reason);
        }
    }

    /// <summary>
    /// Boots the VM: the guest runs <paramref name="variables"/> (shell assignments), common.sh and
    /// <paramref name="scripts"/> from Interop/guest. <paramref name="onSync"/> answers each NVMEIOP-SYNC request.
    /// </summary>
    /// <remarks>
    /// A guest kernel that crashes while booting, before the guest script starts, is booted once more: under TCG the
    /// Debian 7.2 kernel was seen to die in early boot now and then ("Oops: int3" in sched_clock_cpu while patching
    /// its own code), which says nothing about NVMe. Nothing has been asked of the test by then, so a second boot is safe.
    /// </remarks>
    public static async Task<LinuxVmOutput> RunAsync(
        IReadOnlyDictionary<string, string> variables,
        IEnumerable<string> scripts,
        int port,
        Func<string, Task>? onSync = null,
        IEnumerable<string>? harnessOptions = null,
        int timeoutSeconds = 280)
    {
        var scriptList = scripts.ToList();
        var options = harnessOptions?.ToList();
        var (exitCode, lines, elapsed) = await BootOnceMoreAfterEarlyCrashAsync(
            () => RunOnceAsync(variables, scriptList, port, onSync, options, timeoutSeconds), run => run.Lines).ConfigureAwait(false);
        return LinuxVmOutput.Parse(exitCode, lines, elapsed);
    }

    /// <summary>
    /// Runs <paramref name="boot"/>; when the guest kernel died while booting, before the guest script started (a TCG
    /// guest now and then panics that early; nothing was asked of anyone yet), says so and boots once more. Every
    /// fixture that starts the harness goes through here.
    /// </summary>
    internal static async Task<T> BootOnceMoreAfterEarlyCrashAsync<T>(Func<Task<T>> boot, Func<T, IReadOnlyList<string>> printed)
    {
        var first = await boot().ConfigureAwait(false);
        if (!CrashedBeforeTheGuestScript(printed(first)))
        {
            return first;
        }

        TestContext.Progress.WriteLine("vm| the guest kernel crashed before the guest script started; booting it once more");
        return await boot().ConfigureAwait(false);
    }

    private static bool CrashedBeforeTheGuestScript(IReadOnlyList<string> lines) =>
        !lines.Any(l => l.Contains("NVMEVM-GUEST-START", StringComparison.Ordinal))
        && lines.Any(l => l.Contains("Oops:", StringComparison.Ordinal) || l.Contains("Kernel panic", StringComparison.Ordinal));

    private static async Task<(int ExitCode, List<string> Lines, TimeSpan Elapsed)> RunOnceAsync(
        IReadOnlyDictionary<string, string> variables,
        IEnumerable<string> scripts,
        int port,
        Func<string, Task>? onSync,
        IEnumerable<string>? harnessOptions,
        int timeoutSeconds)
    {
        string harness = Harness();
        string work = Directory.CreateTempSubdirectory("nvme-iop-vm.").FullName;
        using var sync = new TcpListener(IPAddress.Loopback, 0);
        sync.Start();
        int syncPort = ((IPEndPoint)sync.LocalEndpoint).Port;
        var all = new Dictionary<string, string>(variables) { ["IOP_SYNC_PORT"] = syncPort.ToString(System.Globalization.CultureInfo.InvariantCulture) };
        string script = Path.Combine(work, "guest.sh");
        await File.WriteAllTextAsync(script, ComposeScript(all, scripts)).ConfigureAwait(false);

        var info = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        info.ArgumentList.Add(harness);
        foreach (string option in harnessOptions ?? [])
        {
            info.ArgumentList.Add(option);
        }

        foreach (string argument in new[] { "--timeout", timeoutSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture), "run", "--port", port.ToString(System.Globalization.CultureInfo.InvariantCulture), script })
        {
            info.ArgumentList.Add(argument);
        }

        var lines = new List<string>();
        var gate = new Lock();
        using var process = new Process { StartInfo = info };
        void OnLine(string? line)
        {
            if (line is null)
            {
                return;
            }

            lock (gate)
            {
                lines.Add(line);
            }

            TestContext.Progress.WriteLine("vm| " + line);
        }

        process.OutputDataReceived += (_, e) => OnLine(e.Data);
        process.ErrorDataReceived += (_, e) => OnLine(e.Data);
        var stopwatch = Stopwatch.StartNew();
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        using var cancel = new CancellationTokenSource();
        Task server = ServeSyncAsync(sync, onSync, OnLine, cancel.Token);
        await process.WaitForExitAsync().ConfigureAwait(false);
        process.WaitForExit();
        await cancel.CancelAsync().ConfigureAwait(false);
        await server.ConfigureAwait(false);
        Directory.Delete(work, recursive: true);
        lock (gate)
        {
            return (process.ExitCode, [.. lines], stopwatch.Elapsed);
        }
    }

    /// <summary>
    /// A private copy of the harness with these changes, used for every mode:
    /// <list type="bullet">
    /// <item>"run" mode gets the network of "host" mode: the harness sets qemu's restrict=on for "run", which keeps
    /// the guest from reaching 10.0.2.2 (our target on the host's loopback).</item>
    /// <item><c>NVMEVM_EXTRA_ROOT</c>: a directory whose tree is added to the guest's initramfs.</item>
    /// <item>Debian forky's split kernel packages: linux-image-VER is an empty package there; vmlinuz comes in
    /// linux-binary-VER (as /usr/lib/modules/VER/vmlinuz), the modules in linux-modules-VER and modules.order/
    /// modules.builtin in linux-base-VER. The copy downloads and unpacks those too and puts vmlinuz where the
    /// harness expects it. A harness that already knows about them is left alone.</item>
    /// </list>
    /// </summary>
    public static string Harness()
    {
        lock (PatchGate)
        {
            if (_openHarness is not null && File.Exists(_openHarness))
            {
                return _openHarness;
            }

            string harness = LocateHarness() ?? throw new FileNotFoundException("run-vm.sh");
            string text = File.ReadAllText(harness);
            int at = text.IndexOf("\n" + RunModeNetworkLine + "\n", StringComparison.Ordinal);
            if (at < 0)
            {
                Assert.Fail($"{harness}: the netdev case line '{RunModeNetworkLine.Trim()}' changed; cannot open run mode's network to 10.0.2.2");
            }

            string patched = text.Replace("\n" + RunModeNetworkLine + "\n", "\n    host|run) ;;\n", StringComparison.Ordinal);
            if (!patched.Contains("linux-binary-", StringComparison.Ordinal))
            {
                patched = ReplaceOnce(patched, harness, SplitKernelDownload.Anchor, SplitKernelDownload.Text);
                patched = ReplaceOnce(patched, harness, SplitKernelUnpack.Anchor, SplitKernelUnpack.Text);
                patched = ReplaceOnce(patched, harness, SplitKernelVmlinuz.Anchor, SplitKernelVmlinuz.Text);
            }

            if (!patched.Contains("NVMEVM_EXTRA_ROOT", StringComparison.Ordinal))
            {
                patched = ReplaceOnce(patched, harness, ExtraRoot.Anchor, ExtraRoot.Text);
            }

            string copy = Path.Combine(Path.GetTempPath(), $"nvme-iop-run-vm.{Environment.ProcessId}.sh");
            File.WriteAllText(copy, patched);
            if (!OperatingSystem.IsWindows())
            {
                File.SetUnixFileMode(copy, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            }
            _openHarness = copy;
            return copy;
        }
    }

    private static readonly (string Anchor, string Text) SplitKernelDownload = (
        "  download_debs \"$work/debs\" \"$kpkg\" $pkgs\n",
        "  local ksplit\n" +
        "  ksplit=$(apt-cache \"${APTOPTS[@]}\" depends \"$kpkg\" | awk '/Depends: linux-(binary|modules|base-[0-9])/{print $2}' | tr '\\n' ' ')\n" +
        "  # shellcheck disable=SC2086\n" +
        "  download_debs \"$work/debs\" \"$kpkg\" $ksplit $pkgs\n");

    private static readonly (string Anchor, string Text) SplitKernelUnpack = (
        "      linux-image-*) dpkg-deb -x \"$f\" \"$work/kernel\" ;;\n",
        "      linux-image-*|linux-binary-*|linux-modules-*|linux-base-[0-9]*) dpkg-deb -x \"$f\" \"$work/kernel\" ;;\n");

    private static readonly (string Anchor, string Text) SplitKernelVmlinuz = (
        "  if [ -z \"$kver\" ] || [ ! -f \"$work/kernel/boot/vmlinuz-$kver\" ]; then die \"no kernel in $kpkg\"; fi\n",
        "  if [ -n \"$kver\" ] && [ ! -f \"$work/kernel/boot/vmlinuz-$kver\" ] && [ -f \"$work/kernel/lib/modules/$kver/vmlinuz\" ]; then\n" +
        "    mkdir -p \"$work/kernel/boot\" && cp \"$work/kernel/lib/modules/$kver/vmlinuz\" \"$work/kernel/boot/vmlinuz-$kver\"\n" +
        "  fi\n" +
        "  if [ -z \"$kver\" ] || [ ! -f \"$work/kernel/boot/vmlinuz-$kver\" ]; then die \"no kernel in $kpkg\"; fi\n");

    /// <summary>NVMEVM_EXTRA_ROOT=DIR: DIR's tree is added to the run's initramfs (a .NET runtime and a program, say).</summary>
    private static readonly (string Anchor, string Text) ExtraRoot = (
        "  ( cd \"$run/root\" && find . | cpio -o -H newc -R 0:0 --quiet ) > \"$run/run.cpio\"\n",
        "  if [ -n \"${NVMEVM_EXTRA_ROOT:-}\" ]; then cp -a \"$NVMEVM_EXTRA_ROOT\"/. \"$run/root/\"; fi\n" +
        "  ( cd \"$run/root\" && find . | cpio -o -H newc -R 0:0 --quiet ) > \"$run/run.cpio\"\n");

    private static string ReplaceOnce(string text, string harness, string anchor, string replacement)
    {
        if (!text.Contains(anchor, StringComparison.Ordinal))
        {
            Assert.Fail($"{harness}: the line '{anchor.Trim()}' changed; cannot add Debian's split kernel packages (forky)");
        }

        return text.Replace(anchor, replacement, StringComparison.Ordinal);
    }

    private static string ComposeScript(IReadOnlyDictionary<string, string> variables, IEnumerable<string> scripts)
    {
        string guestDir = Path.Combine(TargetRunner.RepositoryRoot(), "tests", "NvmeMptls.IntegrationTests", "Interop", "guest");
        var text = new StringBuilder("# composed by LinuxVm.cs\n");
        foreach ((string key, string value) in variables)
        {
            text.Append(key).Append("='").Append(value.Replace("'", "'\\''", StringComparison.Ordinal)).Append("'\n");
        }

        foreach (string name in scripts.Prepend("common.sh"))
        {
            text.Append("# ---- ").Append(name).Append('\n').Append(File.ReadAllText(Path.Combine(guestDir, name))).Append('\n');
        }

        return text.ToString();
    }

    private static async Task ServeSyncAsync(TcpListener listener, Func<string, Task>? onSync, Action<string?> log, CancellationToken cancel)
    {
        while (!cancel.IsCancellationRequested)
        {
            TcpClient client;
            try
            {
                client = await listener.AcceptTcpClientAsync(cancel).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }

            using (client)
            {
                NetworkStream stream = client.GetStream();
                using var reader = new StreamReader(stream, Encoding.ASCII);
                string request = (await reader.ReadLineAsync(cancel).ConfigureAwait(false) ?? "").Trim();
                log($"test| sync request '{request}'");
                string answer;
                try
                {
                    if (onSync is null)
                    {
                        throw new InvalidOperationException("this test answers no sync requests");
                    }

                    await onSync(request).ConfigureAwait(false);
                    answer = "done " + request;
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    answer = "error " + e.Message.Split('\n')[0];
                }

                log($"test| sync answer '{answer}'");
                await stream.WriteAsync(Encoding.ASCII.GetBytes(answer + "\n"), cancel).ConfigureAwait(false);
            }
        }
    }

    private static bool OnPath(string program) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Any(dir => File.Exists(Path.Combine(dir, program)));
}
