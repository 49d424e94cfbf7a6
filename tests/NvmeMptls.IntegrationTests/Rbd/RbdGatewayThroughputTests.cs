using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using NvmeMptls.IntegrationTests.Loopback;
using NvmeMptls.IntegrationTests.TestKit;

namespace NvmeMptls.IntegrationTests.Rbd;

/// <summary>
/// Two RBD images served by the real target, as a gateway group would spread its ANA groups: one image per job, two
/// jobs at once, both through one gateway process or each through its own gateway process, next to two concurrent
/// `rbd bench` runs on the same images with as many threads as our queue depth. Printed, not timed: only zero errors is asserted. On a 2-core machine
/// with a memstore OSD the cluster, not the gateways, is the limit, which the figures show.
/// </summary>
[NonParallelizable]
public sealed partial class RbdGatewayThroughputTests
{
    private const string Nqn = "nqn.2026-01.io.nvmemptls:default";
    private const int Seconds = 3;

    private static readonly (string Rw, string Bs, int Depth, string RbdType, string RbdPattern, string RbdTotal)[] Cells =
    [
        ("randwrite", "4k", 16, "write", "rand", "32M"),
        ("randread", "4k", 16, "read", "rand", "32M"),
        ("write", "128k", 8, "write", "seq", "256M"),
        ("read", "128k", 8, "read", "seq", "256M"),
    ];

    [Test]
    public async Task TwoImages_OneGatewayVsTwoGateways_NextToRbdBench()
    {
        var cluster = RbdClusterFixture.Require();
        if (!File.Exists(AllocationPerIoTests.Cli))
        {
            Assert.Ignore($"{AllocationPerIoTests.Cli} is missing: build the solution in Release first");
        }

        cluster.CreateImage("gwa", "128M");
        cluster.CreateImage("gwb", "128M");
        foreach (var image in new[] { "gwa", "gwb" })
        {
            cluster.Rbd($"bench --io-type write --io-size 4M --io-threads 4 --io-pattern seq --io-total 128M rbd/{image}");
        }

        int port1 = TargetProcess.FreePort(), port2 = TargetProcess.FreePort();
        await using var gateway1 = Gateway(port1, cluster.CephConf);
        await using var gateway2 = Gateway(port2, cluster.CephConf);
        await gateway1.WaitReadyAsync(TimeSpan.FromSeconds(90));
        await gateway2.WaitReadyAsync(TimeSpan.FromSeconds(90));

        // Warm-up: JIT on both sides, each image's exclusive lock taken by the gateway that writes it first.
        await Task.WhenAll(BenchAsync(port1, 1, "randwrite", "4k", 16, 1), BenchAsync(port2, 1, "randwrite", "4k", 16, 2));

        var table = new StringBuilder();
        table.AppendLine("| cell | one gateway (both images) | two gateways (an image each) | two gateways / one | rbd bench, 2 runs, threads = QD | two gateways / rbd bench |");
        table.AppendLine("|---|---|---|---|---|---|");
        foreach (var (rw, bs, depth, rbdType, rbdPattern, rbdTotal) in Cells)
        {
            var one = await Task.WhenAll(BenchAsync(port1, Seconds, rw, bs, depth, 1), BenchAsync(port1, Seconds, rw, bs, depth, 2));
            var two = await Task.WhenAll(BenchAsync(port1, Seconds, rw, bs, depth, 1), BenchAsync(port2, Seconds, rw, bs, depth, 2));
            var rbd = await Task.WhenAll(
                Task.Run(() => RbdBench(cluster, rbdType, bs, depth, rbdPattern, rbdTotal, "gwa")),
                Task.Run(() => RbdBench(cluster, rbdType, bs, depth, rbdPattern, rbdTotal, "gwb")));
            var unit = bs == "4k" ? "IOPS" : "MiB/s";
            double Figure((double Iops, double MiBps) r) => bs == "4k" ? r.Iops : r.MiBps;
            double oneSum = Figure(one[0]) + Figure(one[1]), twoSum = Figure(two[0]) + Figure(two[1]), rbdSum = Figure(rbd[0]) + Figure(rbd[1]);
            table.AppendLine(string.Create(CultureInfo.InvariantCulture,
                $"| {bs} {rw} QD{depth}, both images ({unit}) | {oneSum:F0} | {twoSum:F0} | {twoSum / oneSum:F2} | {rbdSum:F0} | {twoSum / rbdSum:F2} |"));
        }

        TestContext.Out.WriteLine(table.ToString());
        TestContext.Out.WriteLine($"ours: nvme-mptls bench -a 127.0.0.1 -s PORT -n {Nqn} -N 1|2 --nr-io-queues 1 --rw=RW --bs=BS --iodepth=D --runtime={Seconds} --time_based, two at once");
        TestContext.Out.WriteLine("rbd:  rbd -c ceph.conf bench --io-type read|write --io-size BS --io-threads QD --io-pattern rand|seq --io-total N rbd/gwa (and rbd/gwb at once)");
    }

    private static TargetProcess Gateway(int port, string cephConf) => TargetProcess.Start(
    [
        "--listen", $"127.0.0.1:{port}", "--discovery", "none", "--metrics", "off", "--rbd-ns", "rbd/gwa", "--rbd-ns", "rbd/gwb", "--ceph-conf", cephConf,
    ]);

    /// <summary>One `nvme-mptls bench` process, one I/O queue, on namespace <paramref name="nsid"/>: (IOPS, MiB/s); fails on any error.</summary>
    private static async Task<(double Iops, double MiBps)> BenchAsync(int port, int seconds, string rw, string bs, int depth, int nsid)
    {
        List<string> args =
        [
            AllocationPerIoTests.Cli, "bench", "-a", "127.0.0.1", "-s", port.ToString(CultureInfo.InvariantCulture), "-n", Nqn,
            "-N", nsid.ToString(CultureInfo.InvariantCulture), "--multipath", "disabled", "--nr-io-queues", "1", "--name=gw", $"--rw={rw}", $"--bs={bs}",
            $"--iodepth={depth}", "--size=128m", $"--runtime={seconds}", "--time_based", "--ramp_time=500ms", "--output-format=json",
        ];
        var result = await ToolRunner.RunAsync("dotnet", args, TimeSpan.FromMinutes(2));
        Assert.That(result.ExitCode, Is.Zero, result.ToString());
        using var json = JsonDocument.Parse(result.Stdout[result.Stdout.IndexOf('{', StringComparison.Ordinal)..]);
        var job = json.RootElement.GetProperty("jobs")[0];
        Assert.That(job.GetProperty("total_err").GetInt64(), Is.Zero, result.ToString());
        var direction = job.GetProperty(rw.Contains("write", StringComparison.Ordinal) ? "write" : "read");
        return (direction.GetProperty("iops").GetDouble(), direction.GetProperty("bw_bytes").GetDouble() / (1 << 20));
    }

    private static (double Iops, double MiBps) RbdBench(CephMiniCluster cluster, string type, string bs, int threads, string pattern, string total, string image)
    {
        var output = cluster.Rbd($"bench --io-type {type} --io-size {bs.ToUpperInvariant()} --io-threads {threads} --io-pattern {pattern} --io-total {total} rbd/{image}");
        var summary = Summary().Match(output);
        Assert.That(summary.Success, Is.True, "rbd bench summary line:\n" + output);
        var iops = double.Parse(summary.Groups[1].Value, CultureInfo.InvariantCulture);
        return (iops, iops * (bs == "4k" ? 4096 : 131072) / (1 << 20));
    }

    // rbd bench's last line: "elapsed: 3   ops: 8192   ops/sec: 2712.9   bytes/sec: 10.6 MiB/s"; MiB/s is taken from
    // ops/sec and the I/O size, whatever unit bytes/sec is printed in.
    [GeneratedRegex(@"elapsed:.*ops/sec:\s*([0-9.]+)")]
    private static partial Regex Summary();
}
