using System.Diagnostics;

namespace NvmeMptls.Cli.Mount;

/// <summary>Running the system tools mount depends on (losetup, mkfs.ext4, mount, nbdfuse, nbd-client).</summary>
public sealed partial class MountManager
{
    internal static string? Which(string tool)
    {
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Concat(["/usr/sbin", "/sbin", "/usr/bin", "/bin"]))
        {
            var path = Path.Combine(dir, tool);
            if (dir.Length > 0 && File.Exists(path))
            {
                return path;
            }
        }

        return null;
    }

    /// <summary>Runs a tool to completion; a non-zero exit becomes a <see cref="MountException"/> with its stderr.</summary>
    private static async Task<string> RunAsync(string tool, string[] args, CancellationToken cancellationToken)
    {
        var start = new ProcessStartInfo(Which(tool) ?? throw new MountException($"{tool} is not installed"))
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        using var process = Process.Start(start) ?? throw new MountException($"could not start {tool}");
        var stdout = process.StandardOutput.ReadToEndAsync(cancellationToken);
        var stderr = process.StandardError.ReadToEndAsync(cancellationToken);
        await process.WaitForExitAsync(cancellationToken);
        if (process.ExitCode != 0)
        {
            throw new MountException($"{tool} {string.Join(' ', args)} failed (exit {process.ExitCode}): {(await stderr).Trim()}");
        }

        return await stdout;
    }

    /// <summary>Starts a long-lived helper that must outlive this process, detached from its stdio (see <see cref="Detached"/>).</summary>
    private static Process StartBackground(string tool, string[] args, string logPath)
    {
        var start = new ProcessStartInfo(Which(tool) ?? throw new MountException($"{tool} is not installed")) { UseShellExecute = false };
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        return Process.Start(Detached(start, logPath)) ?? throw new MountException($"could not start {tool}");
    }

    /// <summary>
    /// The same start with stdin from /dev/null and stdout/stderr appended to <paramref name="logPath"/>. A helper that
    /// outlives <c>mount</c> must not keep the caller's stdout/stderr open: whoever reads them (a pipe, <c>$(...)</c>,
    /// ssh, a test runner) would never see end-of-file. <c>exec</c> keeps the process id the helper's own.
    /// </summary>
    public static ProcessStartInfo Detached(ProcessStartInfo start, string logPath)
    {
        ArgumentNullException.ThrowIfNull(start);
        var sh = new ProcessStartInfo("/bin/sh") { UseShellExecute = false };
        sh.ArgumentList.Add("-c");
        sh.ArgumentList.Add("exec \"$@\" </dev/null >>\"$NVME_MPTLS_HELPER_LOG\" 2>&1");
        sh.ArgumentList.Add("sh");
        sh.ArgumentList.Add(start.FileName);
        foreach (var arg in start.ArgumentList)
        {
            sh.ArgumentList.Add(arg);
        }

        sh.Environment["NVME_MPTLS_HELPER_LOG"] = logPath;
        return sh;
    }

    /// <summary>nbdfuse must be stopped by unmounting its directory (its manual says not to kill it); kill only as a last resort.</summary>
    private static async Task StopFuseAsync(string fuseDir, int? pid)
    {
        try
        {
            await RunAsync("fusermount3", ["-u", fuseDir], CancellationToken.None);
        }
        catch (MountException) when (pid is not null)
        {
            // Not mounted (yet): fall through to stopping the process.
        }

        if (pid is { } id)
        {
            await StopProcessAsync(id, TimeSpan.FromSeconds(10));
        }
    }

    /// <summary>SIGTERM, wait, then SIGKILL. A pid that is gone already is fine.</summary>
    private static async Task StopProcessAsync(int pid, TimeSpan grace)
    {
        Process process;
        try
        {
            process = Process.GetProcessById(pid);
        }
        catch (ArgumentException)
        {
            return;
        }

        using (process)
        {
            if (process.HasExited)
            {
                return;
            }

            try
            {
                await RunAsync("kill", ["-TERM", pid.ToString(System.Globalization.CultureInfo.InvariantCulture)], CancellationToken.None);
            }
            catch (MountException)
            {
                return;
            }

            using var wait = new CancellationTokenSource(grace);
            try
            {
                await process.WaitForExitAsync(wait.Token);
            }
            catch (OperationCanceledException)
            {
                process.Kill(entireProcessTree: true);
                await process.WaitForExitAsync(CancellationToken.None);
            }
        }
    }

    private static Task DeleteDirectoryAsync(string directory)
    {
        if (Directory.Exists(directory))
        {
            Directory.Delete(directory, recursive: false);
        }

        return Task.CompletedTask;
    }
}
