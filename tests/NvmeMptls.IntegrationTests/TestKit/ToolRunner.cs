using System.Diagnostics;

namespace NvmeMptls.IntegrationTests.TestKit;

/// <summary>Runs independent command-line tools (nbdinfo, nbdcopy, qemu-io, fio, openssl, gcc, the VM harness) and captures what they print.</summary>
public static class ToolRunner
{
    public sealed record Result(int ExitCode, string Stdout, string Stderr)
    {
        public override string ToString() => $"exit {ExitCode}\nstdout:\n{Stdout}\nstderr:\n{Stderr}";
    }

    /// <summary>Full path of <paramref name="tool"/> on PATH, or null.</summary>
    public static string? Find(string tool)
    {
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "/usr/bin:/bin").Split(':'))
        {
            foreach (var candidate in new[] { dir, "/usr/sbin", "/sbin" })
            {
                var path = Path.Combine(candidate, tool);
                if (File.Exists(path))
                {
                    return path;
                }
            }
        }

        return null;
    }

    /// <summary>Skips the test (Assert.Ignore) naming the Debian package when a tool is missing.</summary>
    public static void Require(string tool, string package)
    {
        if (Find(tool) is null)
        {
            Assert.Ignore($"{tool} is not installed (apt-get install {package})");
        }
    }

    /// <summary>
    /// Runs <paramref name="tool"/> (a name on PATH or a path) to the end; kills it after <paramref name="timeout"/>
    /// (default 5 min). <paramref name="environment"/> adds variables, <paramref name="workingDirectory"/> sets its folder.
    /// </summary>
    public static async Task<Result> RunAsync(string tool, IEnumerable<string> args, TimeSpan? timeout = null,
        IReadOnlyDictionary<string, string>? environment = null, string? workingDirectory = null)
    {
        var start = new ProcessStartInfo(Find(tool) ?? tool)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        foreach (var (key, value) in environment ?? new Dictionary<string, string>())
        {
            start.Environment[key] = value;
        }

        if (workingDirectory is not null)
        {
            start.WorkingDirectory = workingDirectory;
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException($"could not start {tool}");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(timeout ?? TimeSpan.FromMinutes(5));
        try
        {
            await process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{tool} {string.Join(' ', start.ArgumentList)} did not finish: killed");
        }

        // A process that exited but whose output is still open left a descendant holding our pipes.
        var closed = Task.WhenAll(stdout, stderr);
        if (await Task.WhenAny(closed, Task.Delay(TimeSpan.FromSeconds(15))) != closed)
        {
            throw new TimeoutException($"{tool} {string.Join(' ', start.ArgumentList)} exited ({process.ExitCode}) but something it started still holds its stdout/stderr open");
        }

        return new Result(process.ExitCode, await stdout, await stderr);
    }
}
