using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using NvmeMptls.IntegrationTests.TestKit;
using NvmeMptls.Target.Configuration;

namespace NvmeMptls.IntegrationTests.Service;

/// <summary>
/// <c>nvme-mptls bench --controller</c> as its own process: one verifying workload over two controllers of one
/// subsystem (two ports of the real service), ANA-aware. During the run the operator swaps the ports' ANA states
/// (a planned move by configuration reload), then the now optimized port's controllers are lost and the other port
/// takes the group back. The workload must see no I/O or verify error, and its log must show I/O on both ports.
/// </summary>
[TestFixture]
[NonParallelizable]
public sealed class BenchAnaFailoverTests
{
    [Test]
    public async Task BenchVerify_OverTwoControllers_FollowsPlannedMoveAndPathLoss_WithoutErrors()
    {
        var cli = Path.Combine(TargetRunner.RepositoryRoot(), "src", "Initiator", "Cli", "bin", "Release", "net10.0", "nvme-mptls.dll");
        if (!File.Exists(cli))
        {
            Assert.Ignore($"{cli} is missing: build the solution in Release first");
        }

        var dir = Directory.CreateTempSubdirectory("nvmemptls-bench-ana-").FullName;
        try
        {
            int port1 = TargetProcess.FreePort(), port2 = TargetProcess.FreePort(), metrics = TargetProcess.FreePort();
            var config = Path.Combine(dir, "target.json");
            await File.WriteAllTextAsync(config, AnaLiveReloadTests.Config(port1, port2, metrics, "\"2\": \"optimized\"", "\"2\": \"inaccessible\""));
            await using var target = await InProcessTarget.StartAsync(config);
            var applied = new TaskCompletionSource<TargetOptions>(TaskCreationOptions.RunContinuationsAsynchronously);
            target.Service.OptionsApplied += o => applied.TrySetResult(o);

            var log = new StringBuilder();
            using var bench = Start(cli, [
                "bench", "-a", "127.0.0.1", "-s", port1.ToString(CultureInfo.InvariantCulture), "--controller", $"127.0.0.1:{port2}",
                "-n", AnaLiveReloadTests.Nqn, "-N", "2", "--multipath", "disabled", "--reconnect-delay", "1", "-v",
                "--name=ana", "--rw=randrw", "--bs=4k", "--iodepth=8", "--size=8m", "--time_based", "--runtime=14",
                "--verify=crc32c", "--output-format=json"], log);
            var stdout = bench.StandardOutput.ReadToEndAsync();

            await Until(() => Logged(log, $"I/O now goes to 127.0.0.1:{port1}") || Logged(log, "path 127.0.0.1:"), "bench connected", bench, log);
            await Task.Delay(TimeSpan.FromSeconds(3));

            // 1. Planned move: port 2 becomes optimized, port 1 inaccessible.
            var clock = Stopwatch.StartNew();
            await File.WriteAllTextAsync(config, AnaLiveReloadTests.Config(port1, port2, metrics, "\"2\": \"inaccessible\"", "\"2\": \"optimized\""));
            await applied.Task.WaitAsync(TimeSpan.FromSeconds(30));
            await Until(() => Logged(log, $"I/O now goes to 127.0.0.1:{port2}"), "bench moving to port 2", bench, log);
            TestContext.Progress.WriteLine($"planned move: file written -> bench on port 2 after {clock.ElapsedMilliseconds} ms");
            await Task.Delay(TimeSpan.FromSeconds(3));

            // 2. Port 2's controllers are lost and port 1 takes the group back (what a gateway group does on a takeover).
            var before = Count(log, $"I/O now goes to 127.0.0.1:{port1}");
            clock.Restart();
            await InitiatorAnaFailoverTests.LoseOptimizedPortAsync(target, lost: 2, takeover: 1, group: 2);
            await Until(() => Count(log, $"I/O now goes to 127.0.0.1:{port1}") > before, "bench moving back to port 1", bench, log);
            TestContext.Progress.WriteLine($"path loss + takeover: bench back on port 1 after {clock.ElapsedMilliseconds} ms");

            await bench.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(90));
            var output = await stdout;
            TestContext.Out.WriteLine(Snapshot(log));
            Assert.That(bench.ExitCode, Is.EqualTo(0), "bench counted I/O or verify errors (exit 1) or could not run (2):\n" + Snapshot(log));
            using var json = JsonDocument.Parse(output);
            var job = json.RootElement.GetProperty("jobs")[0];
            Assert.That(job.GetProperty("error").GetInt32(), Is.EqualTo(0));
            Assert.That(job.GetProperty("read").GetProperty("total_ios").GetInt64() + job.GetProperty("write").GetProperty("total_ios").GetInt64(), Is.GreaterThan(1000));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    internal static Process Start(string cli, string[] args, StringBuilder log)
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add(cli);
        foreach (var arg in args)
        {
            psi.ArgumentList.Add(arg);
        }

        var process = new Process { StartInfo = psi };
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is not null)
            {
                lock (log)
                {
                    log.AppendLine(e.Data);
                }
            }
        };
        process.Start();
        process.BeginErrorReadLine();
        return process;
    }

    internal static string Snapshot(StringBuilder log)
    {
        lock (log)
        {
            return log.ToString();
        }
    }

    internal static bool Logged(StringBuilder log, string text) => Snapshot(log).Contains(text, StringComparison.Ordinal);

    private static int Count(StringBuilder log, string text)
    {
        var all = Snapshot(log);
        var n = 0;
        for (var i = all.IndexOf(text, StringComparison.Ordinal); i >= 0; i = all.IndexOf(text, i + text.Length, StringComparison.Ordinal))
        {
            n++;
        }

        return n;
    }

    internal static async Task Until(Func<bool> condition, string what, Process bench, StringBuilder log)
    {
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (!condition())
        {
            if (DateTime.UtcNow > deadline || bench.HasExited)
            {
                Assert.Fail($"gave up waiting for {what}" + (bench.HasExited ? $" (bench exited {bench.ExitCode})" : "") + ":\n" + Snapshot(log));
            }

            await Task.Delay(20);
        }
    }
}
