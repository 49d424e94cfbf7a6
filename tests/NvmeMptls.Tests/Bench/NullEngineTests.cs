using NvmeMptls.Initiator.LoadGen;

namespace NvmeMptls.Tests.Bench;

/// <summary><c>--ioengine=null</c>: fio's null engine, the load generator measured alone.</summary>
public sealed class NullEngineTests
{
    [Test]
    public void IoEngineNull_SelectsTheNullEngine_OtherEnginesAreNotedAndIgnored()
    {
        var jobs = BenchJobParser.Parse(["--ioengine=null", "--name=a", "--name=b", "--ioengine=libaio"]);
        Assert.That(jobs[0].Engine, Is.EqualTo(BenchEngine.Null));
        Assert.That(jobs[1].Engine, Is.EqualTo(BenchEngine.Nvme), "a job's own ioengine overrides the global one");
        Assert.That(jobs[1].Notes, Has.Some.Contains("ioengine=libaio"));
    }

    [Test]
    public void IoEngineNull_WithVerify_FailsNamingVerify()
    {
        var ex = Assert.Throws<BenchJobException>(() => BenchJobParser.Parse(["--ioengine=null", "--verify=crc32c", "--name=a", "--size=1m"]));
        Assert.That(ex!.Message, Does.Contain("verify"));
    }

    [Test]
    public async Task NullDevice_RunsAJobToItsSize_CountingEveryIo_WithoutErrors()
    {
        var jobs = BenchJobParser.Parse(["--ioengine=null", "--name=n", "--rw=randrw", "--bs=4k", "--iodepth=32", "--size=16m"]);
        var report = await BenchRunner.RunAsync(jobs, (job, _) => ValueTask.FromResult<NvmeMptls.Initiator.INamespaceDevice>(new NullNamespaceDevice(job.Size)),
            TextWriter.Null, new BenchRunOptions(), CancellationToken.None);
        var job = report.Jobs[0];
        Assert.That(job.Read.Ios + job.Write.Ios, Is.EqualTo(16 * 1024 / 4));
        Assert.That(report.TotalErrors, Is.Zero);
    }

    [Test]
    public async Task NullDevice_BeyondItsEnd_IsAnError()
    {
        var device = new NullNamespaceDevice(1 << 20);
        Assert.That(device.BlockCount, Is.EqualTo(2048UL));
        await device.ReadAsync(2047, new byte[512]);
        Assert.ThrowsAsync<ArgumentOutOfRangeException>(async () => await device.ReadAsync(2047, new byte[1024]));
        Assert.ThrowsAsync<ArgumentOutOfRangeException>(async () => await device.WriteZeroesAsync(2048, 1));
    }
}
