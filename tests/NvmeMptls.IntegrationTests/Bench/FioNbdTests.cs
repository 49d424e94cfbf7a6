using System.Text.Json;
using NvmeMptls.Initiator;
using NvmeMptls.Initiator.LoadGen;
using NvmeMptls.Initiator.Nbd;
using NvmeMptls.IntegrationTests.Nbd;
using NvmeMptls.IntegrationTests.TestKit;

namespace NvmeMptls.IntegrationTests.Bench;

/// <summary>fio's own nbd ioengine against the export, using the job files kept in bench/fio.</summary>
[TestFixtureSource(typeof(DeviceFactory), nameof(DeviceFactory.All))]
[NonParallelizable]
public sealed class FioNbdTests
{
    private const long Size = 256L * 1024 * 1024;
    private readonly DeviceFactory _factory;
    private TestDevice _test = null!;
    private INamespaceDevice _device = null!;
    private NbdServer _server = null!;
    private string _socket = "";
    private DirectoryInfo _dir = null!;

    public FioNbdTests(DeviceFactory factory)
    {
        _factory = factory;
    }

    [SetUp]
    public async Task SetUp()
    {
        ToolRunner.Require("fio", "fio");
        _test = await _factory.CreateAsync(Size);
        _device = _test.Device;
        _dir = Directory.CreateTempSubdirectory("fio-nbd-");
        _socket = Path.Combine(_dir.FullName, "nbd.sock");
        _server = new NbdServer(new NbdServerOptions { SocketPath = _socket }, [_device]);
        await _server.StartAsync();
    }

    [TearDown]
    public async Task TearDown()
    {
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }

        if (_test is not null)
        {
            await _test.DisposeAsync();
        }

        _dir?.Delete(recursive: true);
    }

    /// <summary>A copy of a repository job file pointed at this test's socket, with optional key overrides.</summary>
    private string JobFile(string name, params (string Key, string Value)[] overrides)
    {
        var text = File.ReadAllText(Path.Combine(FindRepoDirectory("bench/fio"), name))
            .Replace("socket=/tmp/nvme-mptls.sock", "socket=" + _socket, StringComparison.Ordinal);
        var lines = text.Split('\n');
        foreach (var (key, value) in overrides)
        {
            for (var i = 0; i < lines.Length; i++)
            {
                if (lines[i].StartsWith(key + "=", StringComparison.Ordinal))
                {
                    lines[i] = key + "=" + value;
                }
            }
        }

        var path = Path.Combine(_dir.FullName, name);
        File.WriteAllText(path, string.Join('\n', lines));
        return path;
    }

    private static async Task<JsonDocument> RunFio(string jobFile)
    {
        var result = await ToolRunner.RunAsync("fio", ["--output-format=json", jobFile], TimeSpan.FromMinutes(3));
        if (result.Stderr.Contains("engine nbd not loadable", StringComparison.Ordinal)
            || result.Stderr.Contains("failed to load engine", StringComparison.Ordinal))
        {
            Assert.Ignore("this fio build has no nbd ioengine (needs fio built with libnbd)");
        }

        Assert.That(result.ExitCode, Is.Zero, result.ToString());
        var json = result.Stdout[result.Stdout.IndexOf('{', StringComparison.Ordinal)..];
        return JsonDocument.Parse(json);
    }

    [Test]
    public async Task FioVerifyJob_Crc32cThroughNbd_HasZeroErrors()
    {
        using var json = await RunFio(JobFile("nbd-verify.fio"));
        var job = json.RootElement.GetProperty("jobs")[0];
        Assert.Multiple(() =>
        {
            Assert.That(job.GetProperty("error").GetInt32(), Is.Zero);
            Assert.That(job.GetProperty("write").GetProperty("io_bytes").GetInt64(), Is.EqualTo(64L * 1024 * 1024));
            Assert.That(job.GetProperty("read").GetProperty("io_bytes").GetInt64(), Is.EqualTo(64L * 1024 * 1024), "fio's verify phase reads everything back");
        });
    }

    [Test]
    public async Task CrosscheckJob_RunsUnderFioAndUnderBench_WithTheSameJsonFields()
    {
        var path = JobFile("crosscheck-randrw.fio", ("runtime", "2"));
        using var fio = await RunFio(path);

        var output = new StringWriter();
        var jobs = BenchJobParser.Parse(["--output-format=json", path]);
        await BenchRunner.RunAsync(jobs, (_, _) => ValueTask.FromResult(_device), output, new BenchRunOptions(), CancellationToken.None);
        using var ours = JsonDocument.Parse(output.ToString());

        var fioJob = fio.RootElement.GetProperty("jobs")[0];
        var ourJob = ours.RootElement.GetProperty("jobs")[0];
        foreach (var job in new[] { fioJob, ourJob })
        {
            Assert.That(job.GetProperty("jobname").GetString(), Is.EqualTo("randrw-70-30"));
            Assert.That(job.GetProperty("error").GetInt32(), Is.Zero);
            foreach (var direction in new[] { "read", "write" })
            {
                var d = job.GetProperty(direction);
                Assert.That(d.GetProperty("total_ios").GetInt64(), Is.GreaterThan(0));
                Assert.That(d.GetProperty("io_bytes").GetInt64(), Is.EqualTo(d.GetProperty("total_ios").GetInt64() * 4096));
                Assert.That(d.GetProperty("clat_ns").GetProperty("percentile").GetProperty("99.000000").GetInt64(), Is.GreaterThan(0));
                Assert.That(d.GetProperty("lat_ns").GetProperty("mean").GetDouble(), Is.GreaterThan(0));
            }
        }

        var fioRead = fioJob.GetProperty("read");
        var ourRead = ourJob.GetProperty("read");
        TestContext.Out.WriteLine(
            $"{_factory} randrw 70/30 4k QD16: fio via NBD {fioRead.GetProperty("iops").GetDouble():F0} read IOPS, p50 {fioRead.GetProperty("clat_ns").GetProperty("percentile").GetProperty("50.000000").GetInt64() / 1000.0:F1} us; "
            + $"bench direct {ourRead.GetProperty("iops").GetDouble():F0} read IOPS, p50 {ourRead.GetProperty("clat_ns").GetProperty("percentile").GetProperty("50.000000").GetInt64() / 1000.0:F1} us");
    }

    internal static string FindRepoDirectory(string relative)
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, relative);
            if (Directory.Exists(candidate))
            {
                return candidate;
            }
        }

        throw new DirectoryNotFoundException(relative);
    }
}
