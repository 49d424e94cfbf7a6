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

    /// <summary>Starts a long-lived helper that must outlive this process: no redirected pipes to break.</summary>
    private static Process StartBackground(string tool, string[] args)
    {
        var start = new ProcessStartInfo(Which(tool) ?? throw new MountException($"{tool} is not installed")) { UseShellExecute = false };
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        return Process.Start(start) ?? throw new MountException($"could not start {tool}");
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
