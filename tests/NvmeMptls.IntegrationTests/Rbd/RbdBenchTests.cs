using System.Globalization;
using System.Text.RegularExpressions;
using NvmeMptls.IntegrationTests.Loopback;
using NvmeMptls.Target.Namespaces;
using NvmeMptls.TestKit;

namespace NvmeMptls.IntegrationTests.Rbd;

/// <summary>
/// 4 KiB random read and write at QD16 through our target's RBD namespace (`nvme-mptls bench`, one I/O queue) next to
/// `rbd bench` (16 threads) on the same cluster, and the target's managed allocation per I/O. Printed, not timed:
/// only "less than one block of garbage per I/O" is asserted.
/// </summary>
[NonParallelizable]
public sealed partial class RbdBenchTests
{
    private const int Seconds = 10;

    [Test]
    public async Task RandomReadWrite4kQd16_ThroughTarget_NextToRbdBench()
    {
        var cluster = RbdClusterFixture.Require();
        if (!File.Exists(AllocationPerIoTests.Cli))
        {
            Assert.Ignore($"{AllocationPerIoTests.Cli} is missing: build the solution in Release first");
        }

        cluster.CreateImage("bench", "64M");
        cluster.CreateImage("rbdbench", "64M");
        await using var target = LoopbackTarget.Start(64L << 20, backing: _ =>
            RbdBlockDevice.Open(new RbdImageLocation("rbd", "bench", CephConf: cluster.CephConf)));

        // Warm-up: JIT, and every object of the image written once so reads find data.
        await AllocationPerIoTests.RunBenchAsync(target.Port, 2, "write");
        cluster.Rbd("bench --io-type write --io-size 4M --io-threads 4 --io-pattern seq --io-total 64M rbd/rbdbench");
        foreach (var rw in new[] { "randread", "randwrite" })
        {
            var shortRun = await AllocationPerIoTests.RunBenchAsync(target.Port, 2, rw);
            var longRun = await AllocationPerIoTests.RunBenchAsync(target.Port, Seconds, rw);
            var targetPerIo = (double)(longRun.TargetBytes - shortRun.TargetBytes) / (longRun.Ios - shortRun.Ios);
            var rbd = cluster.Rbd($"bench --io-type {(rw == "randread" ? "read" : "write")} --io-size 4K --io-threads 16 --io-pattern rand --io-total 64M rbd/rbdbench");
            var rbdOps = OpsPerSecond().Match(rbd).Groups[1].Value;
            TestContext.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{rw} 4k QD16: target {longRun.Ios / (double)Seconds:F0} IOPS, {targetPerIo:F1} bytes/IO on the target; rbd bench 16 threads {rbdOps} IOPS"));
            TestContext.Out.WriteLine("  ours: " + longRun.Command);
            TestContext.Out.WriteLine("  rbd:  rbd -c ceph.conf bench --io-type ... --io-size 4K --io-threads 16 --io-pattern rand --io-total 64M rbd/rbdbench");
            Assert.That(targetPerIo, Is.LessThan(4096), "target: less than one data block of garbage per 4 KiB I/O");
        }
    }

    [GeneratedRegex(@"ops/sec:\s*([0-9.]+)")]
    private static partial Regex OpsPerSecond();
}
