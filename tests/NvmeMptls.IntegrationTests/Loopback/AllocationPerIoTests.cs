using System.Globalization;
using System.Text.Json;
using NvmeMptls.IntegrationTests.Nbd;
using NvmeMptls.IntegrationTests.TestKit;
using NvmeMptls.TestKit;

namespace NvmeMptls.IntegrationTests.Loopback;

/// <summary>
/// Managed allocation per I/O on each side of a real NVMe/TCP connection, each measured in its own process: the target
/// in this test process (nothing else running here), the initiator as a child <c>nvme-mptls bench</c> that reports its
/// own bytes/IO. The target figure is the difference between a short and a long run, so connect and teardown cancel.
/// Printed, not asserted tightly: this is a measurement.
/// </summary>
[NonParallelizable]
public sealed class AllocationPerIoTests
{
    [TestCase("randread")]
    [TestCase("randwrite")]
    public async Task SteadyState4kQd16_AllocationPerIo_OnTargetAndOnInitiator(string rw)
    {
        if (!File.Exists(Cli))
        {
            Assert.Ignore($"{Cli} is missing: build the solution in Release first");
        }

        await using var target = LoopbackTarget.Start(64L << 20);
        Task<BenchRun> Run(int seconds, string mode) => RunBenchAsync(target.Port, seconds, mode);

        // Warm-up: JIT, and every 1 MiB chunk of the memory namespace allocated once, so only the I/O path is left.
        await Run(1, "write");
        var shortRun = await Run(1, rw);
        var longRun = await Run(5, rw);
        Assert.That(longRun.Ios, Is.GreaterThan(shortRun.Ios), "the longer run did more I/O");
        var targetPerIo = (double)(longRun.TargetBytes - shortRun.TargetBytes) / (longRun.Ios - shortRun.Ios);
        TestContext.Out.WriteLine($"{rw} 4k QD16, 1 I/O queue: target side {targetPerIo:F1} bytes/IO "
            + $"({longRun.TargetBytes} - {shortRun.TargetBytes} bytes over {longRun.Ios} - {shortRun.Ios} I/Os); "
            + $"initiator side {longRun.InitiatorPerIo:F1} bytes/IO (bench's own window, {longRun.Ios} I/Os)");
        TestContext.Out.WriteLine("command: " + longRun.Command);
        Assert.Multiple(() =>
        {
            Assert.That(targetPerIo, Is.LessThan(4096), "target: less than one data block of garbage per 4 KiB I/O");
            Assert.That(longRun.InitiatorPerIo, Is.GreaterThanOrEqualTo(0).And.LessThan(4096), "initiator: less than one data block of garbage per 4 KiB I/O");
        });
    }

    internal static string Cli => Path.Combine(TargetRunner.RepositoryRoot(), "src", "Initiator", "Cli", "bin", "Release", "net10.0", "nvme-mptls.dll");

    /// <summary>
    /// `nvme-mptls bench` 4 KiB at QD16 on one I/O queue against a loopback target in this process, with the bytes this
    /// process (the target) allocated meanwhile.
    /// </summary>
    internal static async Task<BenchRun> RunBenchAsync(int port, int seconds, string mode)
    {
        string[] args =
        [
            Cli, "bench", "-a", "127.0.0.1", "-s", port.ToString(CultureInfo.InvariantCulture), "-n", LoopbackTarget.SubsystemNqn,
            "--multipath", "disabled", "--nr-io-queues", "1", "--name=alloc", $"--rw={mode}", "--bs=4k", "--iodepth=16", "--size=64m",
            $"--runtime={seconds}", "--time_based", "--ramp_time=500ms", "--output-format=json",
        ];
        GC.Collect();
        var before = GC.GetTotalAllocatedBytes(precise: true);
        var result = await ToolRunner.RunAsync("dotnet", args, TimeSpan.FromMinutes(2));
        var after = GC.GetTotalAllocatedBytes(precise: true);
        Assert.That(result.ExitCode, Is.Zero, result.ToString());
        using var json = JsonDocument.Parse(result.Stdout[result.Stdout.IndexOf('{', StringComparison.Ordinal)..]);
        var job = json.RootElement.GetProperty("jobs")[0];
        Assert.That(job.GetProperty("error").GetInt32(), Is.Zero);
        var ios = job.GetProperty("read").GetProperty("total_ios").GetInt64() + job.GetProperty("write").GetProperty("total_ios").GetInt64();
        var initiator = json.RootElement.GetProperty("nvme-mptls").GetProperty("allocated_bytes_per_io").GetDouble();
        return new BenchRun(after - before, ios, initiator, "dotnet nvme-mptls.dll " + string.Join(' ', args.Skip(1)));
    }
}

/// <summary>One `nvme-mptls bench` run: the target's allocated bytes, the I/Os done, the initiator's own bytes/IO.</summary>
internal sealed record BenchRun(long TargetBytes, long Ios, double InitiatorPerIo, string Command);
