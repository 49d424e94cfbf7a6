using System.Text.Json;
using NvmeMptls.Initiator;
using NvmeMptls.Initiator.LoadGen;
using NvmeMptls.TestKit;
using NvmeMptls.Transport.Nvme;

namespace NvmeMptls.Tests.Bench;

[TestFixtureSource(typeof(BenchDeviceFactory), nameof(BenchDeviceFactory.All))]
public sealed class BenchEngineTests
{
    private const long DeviceSize = 32L * 1024 * 1024;
    private readonly BenchDeviceFactory _factory;

    public BenchEngineTests(BenchDeviceFactory factory)
    {
        _factory = factory;
    }

    private static Task<BenchReport> Run(INamespaceDevice device, params string[] args) =>
        BenchRunner.RunAsync(BenchJobParser.Parse(args), (_, _) => ValueTask.FromResult(device), TextWriter.Null, new BenchRunOptions(), CancellationToken.None);

    [TestCase("write")]
    [TestCase("randwrite")]
    [TestCase("rw")]
    [TestCase("randrw")]
    public async Task WritingMode_WithCrc32cVerify_FinishesWithZeroErrorsAndVerifiesWhatItWrote(string rw)
    {
        var device = _factory.Create(DeviceSize);
        var report = await Run(device, "--name=v", $"--rw={rw}", "--bs=8k", "--iodepth=8", "--numjobs=2", "--size=4m", "--offset_increment=4m", "--verify=crc32c");
        var job = report.Jobs[0];
        Assert.Multiple(() =>
        {
            Assert.That(report.Jobs, Has.Count.EqualTo(2));
            Assert.That(report.TotalErrors, Is.Zero, report.ToText());
            Assert.That(job.Error, Is.Zero);
            Assert.That(job.Read.Ios + job.Write.Ios, Is.EqualTo(4L * 1024 * 1024 / 8192));
            Assert.That(job.Write.Ios, Is.GreaterThan(0));
            Assert.That(job.VerifiedBlocks, Is.GreaterThan(0));
        });
    }

    [TestCase("read")]
    [TestCase("randread")]
    public async Task ReadingMode_WithCrc32cVerify_ChecksBlocksAnEarlierWriteJobLeft(string rw)
    {
        var device = _factory.Create(DeviceSize);
        var fill = await Run(device, "--name=fill", "--rw=write", "--bs=4k", "--iodepth=4", "--size=8m", "--verify=crc32c");
        Assert.That(fill.TotalErrors, Is.Zero);

        var report = await Run(device, "--name=check", $"--rw={rw}", "--bs=4k", "--iodepth=16", "--size=8m", "--verify=crc32c");
        var job = report.Jobs[0];
        Assert.Multiple(() =>
        {
            Assert.That(report.TotalErrors, Is.Zero, report.ToText());
            Assert.That(job.Read.Ios, Is.EqualTo(2048));
            Assert.That(job.VerifiedBlocks, Is.EqualTo(2048));
            Assert.That(job.UnwrittenBlocks, Is.Zero);
        });
    }

    [Test]
    public async Task Verify_CorruptedBlock_IsCountedWithItsOffsetAndEilseq()
    {
        var device = _factory.Create(DeviceSize);
        await Run(device, "--name=fill", "--rw=write", "--bs=4k", "--size=1m", "--verify=crc32c");
        var corrupt = new byte[device.LbaSize];
        await device.ReadAsync((ulong)(40960 / device.LbaSize), corrupt);
        corrupt[device.LbaSize - 1] ^= 0xff;
        await device.WriteAsync((ulong)(40960 / device.LbaSize), corrupt);

        var report = await Run(device, "--name=check", "--rw=read", "--bs=4k", "--size=1m", "--verify=crc32c", "--continue_on_error=all");
        var job = report.Jobs[0];
        Assert.Multiple(() =>
        {
            Assert.That(job.VerifyErrors, Is.EqualTo(1));
            Assert.That(job.Error, Is.EqualTo(84));
            Assert.That(job.Failures, Has.Count.EqualTo(1));
            Assert.That(job.Failures[0].Offset, Is.EqualTo(40960));
            Assert.That(job.Failures[0].Reason, Is.EqualTo(nameof(VerifyFailure.BadChecksum)));
            Assert.That(job.VerifiedBlocks, Is.EqualTo(255));
        });
    }

    [Test]
    public async Task InjectedMediaError_IsCountedAsEio_AndContinueOnErrorKeepsGoing()
    {
        var (device, faults) = _factory.CreateInjectable(DeviceSize);
        faults.InjectError((ulong)(65536 / device.LbaSize), MemoryNamespaceDevice.Status(NvmeStatusCodes.UnrecoveredReadError), InjectOn.Read);
        var report = await Run(device, "--name=e", "--rw=read", "--bs=4k", "--size=1m", "--continue_on_error=all");
        var job = report.Jobs[0];
        Assert.Multiple(() =>
        {
            Assert.That(job.Read.Errors, Is.EqualTo(1));
            Assert.That(job.Error, Is.EqualTo(5));
            Assert.That(job.Read.Ios, Is.EqualTo(255));
            Assert.That(job.Failures[0].Offset, Is.EqualTo(65536));
        });
    }

    [Test]
    public async Task InjectedWriteError_WithoutContinueOnError_StopsTheJobLikeFio()
    {
        var (device, faults) = _factory.CreateInjectable(DeviceSize);
        faults.InjectError((ulong)(8192 / device.LbaSize), MemoryNamespaceDevice.Status(NvmeStatusCodes.WriteFault), InjectOn.Write);
        var report = await Run(device, "--name=e", "--rw=write", "--bs=4k", "--size=4m");
        var job = report.Jobs[0];
        Assert.Multiple(() =>
        {
            Assert.That(job.Write.Errors, Is.EqualTo(1));
            Assert.That(job.Error, Is.EqualTo(5));
            Assert.That(job.Write.Ios, Is.LessThan(1024));
        });
    }

    [Test]
    public async Task JsonOutput_ParsesWithFioFieldNames()
    {
        var device = _factory.Create(DeviceSize);
        var output = new StringWriter();
        var jobs = BenchJobParser.Parse(["--output-format=json", "--name=j", "--rw=randrw", "--rwmixread=70", "--bs=4k", "--iodepth=4", "--size=2m"]);
        await BenchRunner.RunAsync(jobs, (_, _) => ValueTask.FromResult(device), output, new BenchRunOptions(), CancellationToken.None);
        using var json = JsonDocument.Parse(output.ToString());
        var root = json.RootElement;
        var job = root.GetProperty("jobs")[0];
        var read = job.GetProperty("read");
        var write = job.GetProperty("write");
        Assert.Multiple(() =>
        {
            Assert.That(root.GetProperty("fio version").GetString(), Does.StartWith("fio-"));
            Assert.That(job.GetProperty("jobname").GetString(), Is.EqualTo("j"));
            Assert.That(job.GetProperty("error").GetInt32(), Is.Zero);
            Assert.That(read.GetProperty("total_ios").GetInt64() + write.GetProperty("total_ios").GetInt64(), Is.EqualTo(512));
            Assert.That(read.GetProperty("io_bytes").GetInt64(), Is.EqualTo(read.GetProperty("total_ios").GetInt64() * 4096));
            Assert.That(read.GetProperty("bw").GetInt64(), Is.EqualTo(read.GetProperty("bw_bytes").GetInt64() / 1024));
            Assert.That(read.GetProperty("iops").GetDouble(), Is.GreaterThan(0));
            Assert.That(read.GetProperty("runtime").GetInt64(), Is.GreaterThanOrEqualTo(0));
            var clat = read.GetProperty("clat_ns");
            Assert.That(clat.GetProperty("min").GetInt64(), Is.LessThanOrEqualTo(clat.GetProperty("max").GetInt64()));
            Assert.That(clat.GetProperty("mean").GetDouble(), Is.GreaterThan(0));
            Assert.That(clat.GetProperty("stddev").GetDouble(), Is.GreaterThanOrEqualTo(0));
            Assert.That(clat.GetProperty("percentile").GetProperty("50.000000").GetInt64(), Is.GreaterThan(0));
            Assert.That(clat.GetProperty("percentile").GetProperty("99.990000").GetInt64(), Is.GreaterThanOrEqualTo(clat.GetProperty("percentile").GetProperty("50.000000").GetInt64()));
            Assert.That(read.GetProperty("lat_ns").GetProperty("N").GetInt64(), Is.EqualTo(read.GetProperty("total_ios").GetInt64()));
            Assert.That(write.GetProperty("clat_ns").GetProperty("max").GetInt64(), Is.GreaterThan(0));
        });
    }

    [Test]
    public async Task SteadyState_AllocatesAlmostNothingPerIo_AndReportsQueueDepthOneOverhead()
    {
        var device = _factory.Create(DeviceSize);
        var deep = await Run(device, "--name=alloc", "--rw=randread", "--bs=4k", "--iodepth=16", "--size=32m", "--runtime=1", "--time_based", "--ramp_time=300ms");
        var qd1 = await Run(device, "--name=qd1", "--rw=randread", "--bs=4k", "--iodepth=1", "--size=32m", "--runtime=1", "--time_based", "--ramp_time=300ms");
        var read = qd1.Jobs[0].Read;
        TestContext.Out.WriteLine($"{_factory}: QD16 {deep.Jobs[0].Read.Iops:F0} IOPS, allocated {deep.AllocatedBytesPerIo:F3} bytes/IO over {deep.AllocationWindowIos} I/Os");
        TestContext.Out.WriteLine($"{_factory}: QD1 {read.Iops:F0} IOPS, mean {read.MeanNs / 1000:F2} us, p50 {read.PercentileNs(50) / 1000.0:F2} us, p99 {read.PercentileNs(99) / 1000.0:F2} us; {qd1.AllocatedBytesPerIo:F3} bytes/IO");
        Assert.Multiple(() =>
        {
            Assert.That(deep.TotalErrors + qd1.TotalErrors, Is.Zero);
            Assert.That(deep.AllocationWindowIos, Is.GreaterThan(1000));
            Assert.That(deep.AllocatedBytesPerIo, Is.LessThan(_factory.AllocationBudgetPerIo), "the per-I/O path must not allocate");
        });
    }
}
