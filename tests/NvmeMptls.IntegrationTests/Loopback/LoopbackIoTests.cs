using System.Diagnostics;
using NvmeMptls.IntegrationTests.TestKit;

namespace NvmeMptls.IntegrationTests.Loopback;

/// <summary>
/// Protocol core over real loopback TCP: our initiator against our target in-process, several I/O queues at depth 32,
/// every digest combination, R2T-sized writes and MDTS-sized reads, all data checked on both sides.
/// </summary>
[NonParallelizable]
public sealed class LoopbackIoTests
{
    private const long Size = 256L * 1024 * 1024;
    private const int Queues = 4;
    private const int Depth = 32;

    [TestCase(false, false)]
    [TestCase(true, false)]
    [TestCase(false, true)]
    [TestCase(true, true)]
    public async Task FourQueuesDepth32_RandomWriteThenReadBack_WholeNamespaceVerified(bool headerDigest, bool dataDigest)
    {
        await using var nvme = await NvmeLoopback.StartAsync(Size, Queues, Depth, headerDigest, dataDigest);
        Assert.That(nvme.Controller.IoQueueCount, Is.EqualTo(Queues));
        var lba = nvme.Namespace.LbaSize;
        var expected = new byte[Size];
        new Random(headerDigest ? 1 : 2).NextBytes(expected);

        // Writes: the namespace cut into 64 KiB pieces, issued in random order with Queues x Depth in flight.
        const int Chunk = 64 * 1024;
        var order = Enumerable.Range(0, (int)(Size / Chunk)).ToArray();
        new Random(3).Shuffle(order);
        var watch = Stopwatch.StartNew();
        await RunConcurrent(order.Length, Queues * Depth, i =>
            nvme.Namespace.WriteAsync((ulong)((long)order[i] * Chunk / lba), expected.AsMemory(order[i] * Chunk, Chunk)));
        var writeSeconds = watch.Elapsed.TotalSeconds;

        // Reads: random sizes (one block to 128 KiB) at random offsets, then the whole namespace in order.
        var random = new Random(4);
        var reads = Enumerable.Range(0, 4096).Select(_ =>
        {
            var blocks = random.Next(1, 128 * 1024 / lba + 1);
            var start = random.NextInt64(0, Size / lba - blocks);
            return (Start: start, Blocks: blocks);
        }).ToArray();
        var mismatches = 0;
        watch.Restart();
        await RunConcurrent(reads.Length, Queues * Depth, async i =>
        {
            var (start, blocks) = reads[i];
            var buffer = new byte[blocks * lba];
            await nvme.Namespace.ReadAsync((ulong)start, buffer);
            if (!buffer.AsSpan().SequenceEqual(expected.AsSpan((int)(start * lba), buffer.Length)))
            {
                Interlocked.Increment(ref mismatches);
            }
        });
        var back = new byte[Size];
        await RunConcurrent((int)(Size / Chunk), Queues * Depth, i =>
            nvme.Namespace.ReadAsync((ulong)((long)i * Chunk / lba), back.AsMemory(i * Chunk, Chunk)));
        var readSeconds = watch.Elapsed.TotalSeconds;

        Assert.Multiple(() =>
        {
            Assert.That(mismatches, Is.Zero, "random-size reads returned other bytes than written");
            Assert.That(back.AsSpan().SequenceEqual(expected), Is.True, "whole-namespace read back differs");
            Assert.That(TargetMatches(nvme, expected), Is.True, "the target's store differs");
        });
        TestContext.Out.WriteLine(
            $"hdgst={headerDigest} ddgst={dataDigest}: wrote 256 MiB in {writeSeconds:F2} s ({256 / writeSeconds:F0} MiB/s), read 4096 random + 256 MiB in {readSeconds:F2} s");
    }

    [TestCase(16 * 1024 + 512)]
    [TestCase(64 * 1024)]
    [TestCase(256 * 1024 + 4096)]
    [TestCase(1024 * 1024)]
    public async Task WritesNeedingR2T_AndReadsUpToMdts_AreVerified(int bytes)
    {
        await using var nvme = await NvmeLoopback.StartAsync(64L << 20, ioQueues: 2, queueSize: 32, headerDigest: true, dataDigest: true);
        Assert.That(nvme.Namespace.MaxTransferBytes, Is.GreaterThanOrEqualTo(bytes), "MDTS allows the transfer in one command");
        var lba = nvme.Namespace.LbaSize;
        var random = new Random(bytes);
        var offsets = Enumerable.Range(0, 16).Select(i => (long)i * (2L << 20) + random.Next(0, 1024) * lba).ToArray();
        var payloads = offsets.Select(_ =>
        {
            var b = new byte[bytes];
            random.NextBytes(b);
            return b;
        }).ToArray();

        await RunConcurrent(offsets.Length, 8, i => nvme.Namespace.WriteAsync((ulong)(offsets[i] / lba), payloads[i]));
        await RunConcurrent(offsets.Length, 8, async i =>
        {
            var back = new byte[bytes];
            await nvme.Namespace.ReadAsync((ulong)(offsets[i] / lba), back);
            Assert.That(back, Is.EqualTo(payloads[i]), $"read back at {offsets[i]}");
            Assert.That(nvme.Snapshot(offsets[i], bytes), Is.EqualTo(payloads[i]), $"target store at {offsets[i]}");
        });
    }

    private static bool TargetMatches(NvmeLoopback nvme, byte[] expected)
    {
        const int Piece = 16 << 20;
        for (var offset = 0; offset < expected.Length; offset += Piece)
        {
            if (!nvme.Snapshot(offset, Piece).AsSpan().SequenceEqual(expected.AsSpan(offset, Piece)))
            {
                return false;
            }
        }

        return true;
    }

    internal static async Task RunConcurrent(int count, int parallel, Func<int, ValueTask> body)
    {
        var next = -1;
        var workers = Enumerable.Range(0, Math.Min(parallel, count)).Select(async _ =>
        {
            int i;
            while ((i = Interlocked.Increment(ref next)) < count)
            {
                await body(i);
            }
        });
        await Task.WhenAll(workers);
    }
}
