using System.Globalization;
using NvmeMptls.Initiator;
using NvmeMptls.IntegrationTests.TestKit;
using NvmeMptls.Transport.Multipath;

namespace NvmeMptls.IntegrationTests.EndToEnd;

/// <summary>
/// NVMe reads over two paths each shaped to 100 Mbit/s with tc tbf, against one path. Prints MB/s and the ratio;
/// asserts only that every run finished without errors (no timed assertion).
/// </summary>
[TestFixture]
[NonParallelizable]
[Category("Benchmark")]
public sealed class AggregationEndToEndTests : TestbedFixture
{
    private const string PathRate = "100mbit";
    protected override string Tag => "e2ea";
    protected override string? Rate => PathRate;

    [Test]
    public async Task SequentialReads128k_TwoPathsVsOnePath_PrintsThroughputAndRatio()
    {
        var tcp = await MeasureAsync("1 path, TCP", NvmeMultipathPolicy.Disabled, pathTwoDown: false);
        var onePath = await MeasureAsync("1 path, MPTCP (path 2 down)", NvmeMultipathPolicy.Required, pathTwoDown: true);
        var twoPaths = await MeasureAsync("2 paths, MPTCP", NvmeMultipathPolicy.Required, pathTwoDown: false);
        EndToEndKit.Print(string.Create(CultureInfo.InvariantCulture,
            $"NVMe 128 KiB sequential reads, QD16, 2 I/O queues, tc tbf {PathRate} per path: 1 path TCP {tcp:0.0} MB/s, "
            + $"1 path MPTCP {onePath:0.0} MB/s, 2 paths MPTCP {twoPaths:0.0} MB/s, ratio 2 paths / 1 path TCP {twoPaths / tcp:0.00}x, "
            + $"/ 1 path MPTCP {twoPaths / onePath:0.00}x"));
    }

    private async Task<double> MeasureAsync(string label, NvmeMultipathPolicy policy, bool pathTwoDown)
    {
        if (pathTwoDown)
        {
            Bed.PathDown(2);
        }

        try
        {
            await using var target = EndToEndKit.StartTarget(Bed, namespaceBytes: 128L << 20);
            await using var controller = await NvmeController.ConnectAsync(EndToEndKit.Options(Bed, target, policy));
            if (policy != NvmeMultipathPolicy.Disabled && !pathTwoDown)
            {
                await EndToEndKit.WaitForSubflowsAsync(controller, 2);
            }

            var ns = await controller.OpenNamespaceAsync(1);
            var report = await EndToEndKit.BenchAsync(ns, "--name=seqread", "--rw=read", "--bs=128k", "--iodepth=16", "--size=128m",
                "--time_based", "--ramp_time=1", "--runtime=7");
            var read = report.Jobs[0].Read;
            var mbs = read.BandwidthBytes / 1e6;
            EndToEndKit.Print(string.Create(CultureInfo.InvariantCulture,
                $"{label}: {read.Ios} reads, {mbs:0.0} MB/s, mean latency {read.MeanNs / 1e6:0.00} ms, p99 {read.PercentileNs(99) / 1e6:0.00} ms")
                + "\n" + EndToEndKit.Listing(controller));
            Assert.That(report.TotalErrors, Is.Zero, report.ToText());
            Assert.That(read.Ios, Is.GreaterThan(0));
            return mbs;
        }
        finally
        {
            if (pathTwoDown)
            {
                Bed.PathUp(2);
            }
        }
    }
}
