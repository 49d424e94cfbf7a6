using System.Globalization;
using System.Text.Json;
using Microsoft.Extensions.Logging.Abstractions;
using NvmeMptls.IntegrationTests.Nbd;
using NvmeMptls.Target.Configuration;
using NvmeMptls.Target.Hosting;
using NvmeMptls.Target.Namespaces;
using NvmeMptls.Target.Server;
using NvmeMptls.IntegrationTests.TestKit;
using NvmeMptls.TestKit;

namespace NvmeMptls.IntegrationTests.Loopback;

/// <summary>
/// Managed allocation per I/O on each side of a real NVMe/TCP connection, plain and TLS, at 4 KiB QD16 and 128 KiB
/// QD16, each side measured in its own process: the target in this test process (nothing else running here), the
/// initiator as a child <c>nvme-mptls bench</c> that reports its own bytes/IO. The target figure is the difference
/// between a short and a long run, so connect and teardown cancel. Allocation counts, unlike times, do not depend on
/// the machine's load, so an upper bound is asserted: the steady state should allocate nothing, and the bound leaves
/// room only for the runtime's own incidental allocations (thread-pool growth, timers) spread over the I/Os.
/// Before the pipes took their segments from PipeBufferPool, 128 KiB cost 33–190 KB/IO (see
/// bench/results/matrix-20261206-0803.md), and 4 KiB TLS ~5 KB/IO on the target.
/// </summary>
[NonParallelizable]
public sealed class AllocationPerIoTests
{
    private const string TlsKey = "NVMeTLSkey-1:01:VRLbtnN9AQb2WXW3c9+wEf/DRLz0QuLdbYvEhwtdWwNf9LrZ:";

    /// <summary>Bytes per I/O either side may allocate in steady state: far below one data block, above the runtime's noise.</summary>
    private const double MaxBytesPerIo = 256;

    [TestCase("randread", "4k", false)]
    [TestCase("randwrite", "4k", false)]
    [TestCase("read", "128k", false)]
    [TestCase("write", "128k", false)]
    [TestCase("randread", "4k", true)]
    [TestCase("randwrite", "4k", true)]
    [TestCase("read", "128k", true)]
    [TestCase("write", "128k", true)]
    public async Task SteadyStateQd16_AllocationPerIo_OnTargetAndOnInitiator(string rw, string bs, bool tls)
    {
        if (!File.Exists(Cli))
        {
            Assert.Ignore($"{Cli} is missing: build the solution in Release first");
        }

        await using var target = LoopbackTarget.Start(64L << 20, tls: tls ? TlsMode.Required : TlsMode.None, security: tls
            ? TargetSecurity.Create(TargetOptions.Default with { Tls = new TlsOptions { Keys = [new TlsKeyOptions { Key = TlsKey }] } },
                NullLoggerFactory.Instance, new TlsHandshakeCounters())
            : null);
        var key = tls ? TlsKey : null;
        Task<BenchRun> Run(int seconds, string mode) => RunBenchAsync(target.Port, seconds, mode, bs, key);

        // Warm-up: JIT, every 1 MiB chunk of the memory namespace allocated once, the pools filled to the peak in
        // flight, so only the I/O path is left.
        await Run(1, "write");
        await Run(1, rw);
        var shortRun = await Run(1, rw);
        var longRun = await Run(4, rw);
        Assert.That(longRun.Ios, Is.GreaterThan(shortRun.Ios), "the longer run did more I/O");
        var targetPerIo = (double)(longRun.TargetBytes - shortRun.TargetBytes) / (longRun.Ios - shortRun.Ios);
        TestContext.Out.WriteLine($"{(tls ? "tls/tcp" : "tcp")} {rw} {bs} QD16, 1 I/O queue: target side {targetPerIo:F1} bytes/IO "
            + $"({longRun.TargetBytes} - {shortRun.TargetBytes} bytes over {longRun.Ios} - {shortRun.Ios} I/Os); "
            + $"initiator side {longRun.InitiatorPerIo:F1} bytes/IO (bench's own window, {longRun.Ios} I/Os)");
        TestContext.Out.WriteLine("command: " + longRun.Command);
        Assert.Multiple(() =>
        {
            Assert.That(targetPerIo, Is.LessThan(MaxBytesPerIo), "target: bytes allocated per I/O in steady state");
            Assert.That(longRun.InitiatorPerIo, Is.GreaterThanOrEqualTo(0).And.LessThan(MaxBytesPerIo), "initiator: bytes allocated per I/O in steady state");
        });
    }

    /// <summary>
    /// The same measurement with a file namespace (a fresh file in /var/tmp) behind the target, once per I/O engine: with
    /// io_uring the read goes to the ring and completes on its reaping thread (pooled operations, no closure), with
    /// positional it is a pread on the thread pool. Both must allocate nothing per I/O in steady state.
    /// </summary>
    [TestCase("randread", IoEngine.IoUring)]
    [TestCase("randwrite", IoEngine.IoUring)]
    [TestCase("randread", IoEngine.Positional)]
    public async Task FileNamespace_SteadyStateQd16_AllocationPerIoOnTheTarget(string rw, IoEngine engine)
    {
        if (!File.Exists(Cli))
        {
            Assert.Ignore($"{Cli} is missing: build the solution in Release first");
        }

        string path = Path.Combine("/var/tmp", "nvmemptls-alloc-" + Guid.NewGuid().ToString("N") + ".img");
        try
        {
            FileBlockDevice? device = null;
            await using (var target = LoopbackTarget.Start(64L << 20, backing: bytes => device = FileBlockDevice.Open(path, bytes, engine: engine)))
            {
                Assert.That(device!.UsesIoUring, Is.EqualTo(engine == IoEngine.IoUring), device.Engine);
                await RunBenchAsync(target.Port, 1, "write");
                await RunBenchAsync(target.Port, 1, rw);
                var shortRun = await RunBenchAsync(target.Port, 1, rw);
                var longRun = await RunBenchAsync(target.Port, 4, rw);
                Assert.That(longRun.Ios, Is.GreaterThan(shortRun.Ios), "the longer run did more I/O");
                var targetPerIo = (double)(longRun.TargetBytes - shortRun.TargetBytes) / (longRun.Ios - shortRun.Ios);
                TestContext.Out.WriteLine($"file namespace ({device.Engine}) {rw} 4k QD16: target side {targetPerIo:F1} bytes/IO "
                    + $"({longRun.TargetBytes} - {shortRun.TargetBytes} bytes over {longRun.Ios} - {shortRun.Ios} I/Os)");
                Assert.That(targetPerIo, Is.LessThan(MaxBytesPerIo), "target: bytes allocated per I/O in steady state");
            }
        }
        finally
        {
            File.Delete(path);
        }
    }

    internal static string Cli => Path.Combine(TargetRunner.RepositoryRoot(), "src", "Initiator", "Cli", "bin", "Release", "net10.0", "nvme-mptls.dll");

    /// <summary>
    /// `nvme-mptls bench` at QD16 (4 KiB unless <paramref name="bs"/> says otherwise; TLS when a key is given) on one
    /// I/O queue against a loopback target in this process, with the bytes this process (the target) allocated meanwhile.
    /// </summary>
    internal static async Task<BenchRun> RunBenchAsync(int port, int seconds, string mode, string bs = "4k", string? tlsKey = null)
    {
        List<string> args =
        [
            Cli, "bench", "-a", "127.0.0.1", "-s", port.ToString(CultureInfo.InvariantCulture), "-n", LoopbackTarget.SubsystemNqn,
            "--multipath", "disabled", "--nr-io-queues", "1", "--name=alloc", $"--rw={mode}", $"--bs={bs}", "--iodepth=16", "--size=64m",
            $"--runtime={seconds}", "--time_based", "--ramp_time=500ms", "--output-format=json",
        ];
        if (tlsKey is not null)
        {
            args.AddRange(["--tls", "--tls-key", tlsKey]);
        }

        GC.Collect();
        var before = GC.GetTotalAllocatedBytes(precise: true);
        // The initiator sees one CPU, as under `taskset -c 1` in the matrix: ArrayPool.Shared then keeps a single
        // partition of 32 arrays per size, the case that allocated a new pipe segment per I/O at 128 KiB.
        var environment = new Dictionary<string, string> { ["DOTNET_PROCESSOR_COUNT"] = "1" };
        var result = await ToolRunner.RunAsync("dotnet", args, TimeSpan.FromMinutes(2), environment);
        var after = GC.GetTotalAllocatedBytes(precise: true);
        Assert.That(result.ExitCode, Is.Zero, result.ToString());
        using var json = JsonDocument.Parse(result.Stdout[result.Stdout.IndexOf('{', StringComparison.Ordinal)..]);
        var job = json.RootElement.GetProperty("jobs")[0];
        Assert.That(job.GetProperty("error").GetInt32(), Is.Zero);
        var ios = job.GetProperty("read").GetProperty("total_ios").GetInt64() + job.GetProperty("write").GetProperty("total_ios").GetInt64();
        var initiator = json.RootElement.GetProperty("nvme-mptls").GetProperty("allocated_bytes_per_io").GetDouble();
        return new BenchRun(after - before, ios, initiator, "DOTNET_PROCESSOR_COUNT=1 dotnet nvme-mptls.dll " + string.Join(' ', args.Skip(1)));
    }
}

/// <summary>One `nvme-mptls bench` run: the target's allocated bytes, the I/Os done, the initiator's own bytes/IO.</summary>
internal sealed record BenchRun(long TargetBytes, long Ios, double InitiatorPerIo, string Command);
