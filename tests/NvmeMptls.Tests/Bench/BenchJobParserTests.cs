using NvmeMptls.Initiator.LoadGen;

namespace NvmeMptls.Tests.Bench;

public sealed class BenchJobParserTests
{
    [Test]
    public void CommandLine_GlobalsBeforeFirstName_ApplyToEveryJob()
    {
        var jobs = BenchJobParser.Parse([
            "--bs=8k", "--iodepth", "4", "--time_based", "--runtime=2m",
            "--name=a", "--rw=randrw", "--rwmixread=70",
            "--name", "b", "--rw=write", "--bs=1m", "--numjobs=3", "--nr-io-queues=4", "--ramp_time=500ms"]);
        Assert.That(jobs, Has.Count.EqualTo(2));
        Assert.Multiple(() =>
        {
            Assert.That(jobs[0].Name, Is.EqualTo("a"));
            Assert.That(jobs[0].Rw, Is.EqualTo(BenchRw.RandRw));
            Assert.That(jobs[0].RwMixRead, Is.EqualTo(70));
            Assert.That(jobs[0].BlockSize, Is.EqualTo(8192));
            Assert.That(jobs[0].IoDepth, Is.EqualTo(4));
            Assert.That(jobs[0].TimeBased, Is.True);
            Assert.That(jobs[0].Runtime, Is.EqualTo(TimeSpan.FromMinutes(2)));
            Assert.That(jobs[1].BlockSize, Is.EqualTo(1 << 20));
            Assert.That(jobs[1].NumJobs, Is.EqualTo(3));
            Assert.That(jobs[1].NrIoQueues, Is.EqualTo(4));
            Assert.That(jobs[1].RampTime, Is.EqualTo(TimeSpan.FromMilliseconds(500)));
        });
    }

    [Test]
    public void FioJobFile_WithEngineOptions_ParsesAndNotesWhatIsIgnored()
    {
        const string file = """
            ; a job file as fio users write them
            [global]
            ioengine=libaio
            direct=1
            filename=/dev/nvme0n1
            bs=4k
            size=1g
            runtime=30
            time_based
            group_reporting

            [randread-qd32]
            rw=randread
            iodepth=32
            numjobs=2

            # second job
            [seqwrite]
            rw=write
            bs=128k
            iodepth=8
            verify=crc32c
            offset=1g
            """;
        var jobs = BenchJobParser.ParseJobFile(file);
        Assert.That(jobs, Has.Count.EqualTo(2));
        Assert.Multiple(() =>
        {
            Assert.That(jobs[0].Name, Is.EqualTo("randread-qd32"));
            Assert.That(jobs[0].Rw, Is.EqualTo(BenchRw.RandRead));
            Assert.That(jobs[0].IoDepth, Is.EqualTo(32));
            Assert.That(jobs[0].NumJobs, Is.EqualTo(2));
            Assert.That(jobs[0].Size, Is.EqualTo(1L << 30));
            Assert.That(jobs[0].GroupReporting, Is.True);
            Assert.That(jobs[0].Runtime, Is.EqualTo(TimeSpan.FromSeconds(30)));
            Assert.That(jobs[0].Notes, Has.Some.StartsWith("ioengine=libaio"));
            Assert.That(jobs[0].Notes, Has.Some.StartsWith("filename=/dev/nvme0n1"));
            Assert.That(jobs[1].BlockSize, Is.EqualTo(128 * 1024));
            Assert.That(jobs[1].Verify, Is.EqualTo(BenchVerify.Crc32c));
            Assert.That(jobs[1].Offset, Is.EqualTo(1L << 30));
        });
    }

    [Test]
    public void RepositoryFioJobs_ParseWithoutErrors()
    {
        var dir = FindRepoDirectory("bench/fio");
        var files = Directory.GetFiles(dir, "*.fio");
        Assert.That(files, Is.Not.Empty);
        foreach (var file in files)
        {
            var jobs = BenchJobParser.Parse([file]);
            Assert.That(jobs, Is.Not.Empty, file);
        }
    }

    [TestCase("--bs=4k-16k", "bs")]
    [TestCase("--rw=trim", "rw=trim")]
    [TestCase("--iodepth=0", "iodepth")]
    [TestCase("--verify=md5", "verify=md5")]
    [TestCase("--time_based", "time_based")]
    public void BadValue_FailsNamingTheKey(string arg, string key)
    {
        var ex = Assert.Throws<BenchJobException>(() => BenchJobParser.Parse(["--name=x", arg]));
        Assert.That(ex!.Message, Does.Contain(key));
    }

    [TestCase("4k", 4096L)]
    [TestCase("1M", 1L << 20)]
    [TestCase("2gib", 2L << 30)]
    [TestCase("512", 512L)]
    public void Sizes_UseFioBase1024(string text, long bytes) =>
        Assert.That(BenchJobParser.ParseSize("bs", text), Is.EqualTo(bytes));

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
