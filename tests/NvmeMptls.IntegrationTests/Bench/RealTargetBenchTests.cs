using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using NvmeMptls.IntegrationTests.Nbd;
using NvmeMptls.IntegrationTests.TestKit;

namespace NvmeMptls.IntegrationTests.Bench;

/// <summary>
/// The user's view of bench and fio on the real path: the target and <c>nvme-mptls nbd</c> as their own processes,
/// fio's nbd engine through the export, <c>nvme-mptls bench</c> straight to the namespace, the same job files.
/// </summary>
[NonParallelizable]
public sealed class RealTargetBenchTests
{
    private const string Nqn = "nqn.2026-01.io.nvmemptls:default";
    private TargetProcess _target = null!;
    private Process? _nbd;
    private readonly StringBuilder _nbdLog = new();
    private DirectoryInfo _dir = null!;
    private string _cli = "";
    private int _port;
    private string _socket = "";

    [OneTimeSetUp]
    public async Task StartTargetAndExport()
    {
        _cli = Path.Combine(TargetRunner.RepositoryRoot(), "src", "Initiator", "Cli", "bin", "Release", "net10.0", "nvme-mptls.dll");
        if (!File.Exists(_cli))
        {
            Assert.Ignore($"{_cli} is missing: build the solution in Release first");
        }

        _dir = Directory.CreateTempSubdirectory("realbench-");
        _socket = Path.Combine(_dir.FullName, "nbd.sock");
        _port = TargetProcess.FreePort();
        _target = TargetProcess.Start(["--listen", $"127.0.0.1:{_port}", "--discovery", "none", "--metrics", "off", "--memory-ns", "256MiB"]);
        await _target.WaitReadyAsync(TimeSpan.FromSeconds(60));

        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in (string[])[_cli, "nbd", .. Connect(), "--socket", _socket])
        {
            start.ArgumentList.Add(arg);
        }

        var ready = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _nbd = new Process { StartInfo = start };
        _nbd.OutputDataReceived += (_, e) => OnNbdLine(e.Data, ready);
        _nbd.ErrorDataReceived += (_, e) => OnNbdLine(e.Data, ready);
        _nbd.Start();
        _nbd.BeginOutputReadLine();
        _nbd.BeginErrorReadLine();
        if (await Task.WhenAny(ready.Task, Task.Delay(TimeSpan.FromSeconds(60))) != ready.Task)
        {
            Assert.Fail("nvme-mptls nbd did not start exporting:\n" + _nbdLog);
        }
    }

    private void OnNbdLine(string? line, TaskCompletionSource ready)
    {
        if (line is null)
        {
            return;
        }

        lock (_nbdLog)
        {
            _nbdLog.AppendLine(line);
        }

        if (line.StartsWith("nbd: exporting", StringComparison.Ordinal))
        {
            ready.TrySetResult();
        }
    }

    [OneTimeTearDown]
    public async Task Stop()
    {
        if (_nbd is not null)
        {
            if (!_nbd.HasExited)
            {
                _nbd.Kill(entireProcessTree: true);
                await _nbd.WaitForExitAsync();
            }

            _nbd.Dispose();
        }

        if (_target is not null)
        {
            await _target.DisposeAsync();
        }

        _dir?.Delete(recursive: true);
    }

    private string[] Connect() => ["-a", "127.0.0.1", "-s", _port.ToString(CultureInfo.InvariantCulture), "-n", Nqn, "--multipath", "disabled"];

    private string JobFile(string name, int? runtime = null)
    {
        var text = File.ReadAllText(Path.Combine(FioNbdTests.FindRepoDirectory("bench/fio"), name))
            .Replace("socket=/tmp/nvme-mptls.sock", "socket=" + _socket, StringComparison.Ordinal);
        if (runtime is { } seconds)
        {
            text = string.Join('\n', text.Split('\n').Select(l => l.StartsWith("runtime=", StringComparison.Ordinal) ? $"runtime={seconds}" : l));
        }

        var path = Path.Combine(_dir.FullName, name);
        File.WriteAllText(path, text);
        return path;
    }

    private static JsonDocument Json(ToolRunner.Result result)
    {
        Assert.That(result.ExitCode, Is.Zero, result.ToString());
        return JsonDocument.Parse(result.Stdout[result.Stdout.IndexOf('{', StringComparison.Ordinal)..]);
    }

    private async Task<JsonDocument> Fio(string jobFile)
    {
        ToolRunner.Require("fio", "fio");
        var result = await ToolRunner.RunAsync("fio", ["--output-format=json", jobFile], TimeSpan.FromMinutes(3));
        if (result.Stderr.Contains("engine nbd not loadable", StringComparison.Ordinal) || result.Stderr.Contains("failed to load engine", StringComparison.Ordinal))
        {
            Assert.Ignore("this fio build has no nbd ioengine (needs fio built with libnbd)");
        }

        return Json(result);
    }

    private async Task<JsonDocument> Bench(params string[] args) =>
        Json(await ToolRunner.RunAsync("dotnet", [_cli, "bench", .. Connect(), "--output-format=json", .. args], TimeSpan.FromMinutes(3)));

    [Test]
    public async Task FioCrc32cVerify_ThroughCliNbdExportOfRealNamespace_ZeroErrors()
    {
        using var json = await Fio(JobFile("nbd-verify.fio"));
        var job = json.RootElement.GetProperty("jobs")[0];
        Assert.Multiple(() =>
        {
            Assert.That(job.GetProperty("error").GetInt32(), Is.Zero);
            Assert.That(job.GetProperty("write").GetProperty("io_bytes").GetInt64(), Is.EqualTo(64L << 20));
            Assert.That(job.GetProperty("read").GetProperty("io_bytes").GetInt64(), Is.EqualTo(64L << 20), "fio's verify phase read everything back");
        });
    }

    [Test]
    public async Task BenchWithCrc32cVerify_EveryRwMode_AgainstTheRealTarget_ZeroErrorsAndFioJson()
    {
        foreach (var rw in new[] { "write", "randwrite", "rw", "randrw", "read", "randread" })
        {
            using var json = await Bench($"--name={rw}", $"--rw={rw}", "--bs=8k", "--iodepth=16", "--numjobs=2", "--size=8m", "--offset_increment=8m", "--verify=crc32c");
            var jobs = json.RootElement.GetProperty("jobs");
            Assert.That(jobs.GetArrayLength(), Is.EqualTo(2), rw);
            foreach (var job in jobs.EnumerateArray())
            {
                var read = job.GetProperty("read");
                var write = job.GetProperty("write");
                Assert.Multiple(() =>
                {
                    Assert.That(job.GetProperty("jobname").GetString(), Is.EqualTo(rw));
                    Assert.That(job.GetProperty("error").GetInt32(), Is.Zero, rw);
                    Assert.That(read.GetProperty("total_ios").GetInt64() + write.GetProperty("total_ios").GetInt64(), Is.EqualTo(1024), rw);
                    Assert.That(read.GetProperty("io_bytes").GetInt64(), Is.EqualTo(read.GetProperty("total_ios").GetInt64() * 8192), rw);
                    Assert.That(write.GetProperty("io_bytes").GetInt64(), Is.EqualTo(write.GetProperty("total_ios").GetInt64() * 8192), rw);
                });
                foreach (var direction in new[] { read, write }.Where(d => d.GetProperty("total_ios").GetInt64() > 0))
                {
                    Assert.That(direction.GetProperty("clat_ns").GetProperty("percentile").GetProperty("50.000000").GetInt64(), Is.GreaterThan(0), rw);
                    Assert.That(direction.GetProperty("lat_ns").GetProperty("mean").GetDouble(), Is.GreaterThan(0), rw);
                }
            }
        }
    }

    [Test]
    public async Task CrosscheckJob_FioThroughNbdAndBenchDirect_SameTarget_FiguresSideBySide()
    {
        var path = JobFile("crosscheck.fio", runtime: 3);
        using var fio = await Fio(path);
        using var ours = await Bench(path);
        var fioRead = fio.RootElement.GetProperty("jobs")[0].GetProperty("read");
        var ourRead = ours.RootElement.GetProperty("jobs")[0].GetProperty("read");
        foreach (var (tool, job) in new[] { ("fio", fio.RootElement.GetProperty("jobs")[0]), ("bench", ours.RootElement.GetProperty("jobs")[0]) })
        {
            Assert.That(job.GetProperty("jobname").GetString(), Is.EqualTo("randread-4k-qd16"), tool);
            Assert.That(job.GetProperty("error").GetInt32(), Is.Zero, tool);
            Assert.That(job.GetProperty("read").GetProperty("total_ios").GetInt64(), Is.GreaterThan(0), tool);
        }

        static string Line(string tool, JsonElement read) => string.Format(CultureInfo.InvariantCulture,
            "{0,-28} {1,8:F0} IOPS  {2,7:F1} MiB/s  p50 {3,8:F1} us  p99 {4,8:F1} us",
            tool, read.GetProperty("iops").GetDouble(), read.GetProperty("bw_bytes").GetDouble() / (1 << 20),
            read.GetProperty("clat_ns").GetProperty("percentile").GetProperty("50.000000").GetInt64() / 1000.0,
            read.GetProperty("clat_ns").GetProperty("percentile").GetProperty("99.000000").GetInt64() / 1000.0);
        TestContext.Out.WriteLine("crosscheck.fio (randread 4k QD16, 3 s) against the same target process:");
        TestContext.Out.WriteLine(Line("fio nbd -> nvme-mptls nbd", fioRead));
        TestContext.Out.WriteLine(Line("nvme-mptls bench (direct)", ourRead));
    }
}
