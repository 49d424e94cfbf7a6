using System.Buffers.Binary;
using NvmeMptls.Initiator;
using NvmeMptls.TestKit;

namespace NvmeMptls.Tests.Target.Tcp;

/// <summary>
/// Reads sent by gathered send (header, the read buffer where it lies, digest: one sendmsg) over loopback TCP, many in
/// flight on two queues while writes rewrite the same blocks: every block read back is whole and names its own LBA —
/// old or new as NVMe allows for commands in flight together, never torn, never another command's data, never shifted
/// by a PDU sent out of order — with digests on and off, and the target returns every read buffer.
/// </summary>
public sealed class GatheredReadEndToEndTests
{
    private const int Lba = 512;
    private const long Size = 16L << 20;

    [Test]
    public async Task ManyConcurrentReadsRacingWrites_EveryBlockWholeAndItsOwn([Values(false, true)] bool digests, [Values] NvmeCompletionMode completions)
    {
        await using var target = LoopbackTarget.Start(Size);
        await using var controller = await NvmeController.ConnectAsync(target.ClientOptions with
        {
            IoQueueCount = 2,
            QueueSize = 64,
            CompletionMode = completions,
            HeaderDigest = digests,
            DataDigest = digests,
        });
        var ns = await controller.OpenNamespaceAsync(1);
        const long Blocks = Size / Lba;

        // Generation 0 everywhere, in 128 KiB writes.
        var fill = new byte[128 * 1024];
        for (long lba = 0; lba < Blocks; lba += fill.Length / Lba)
        {
            Stamp(fill, (ulong)lba, 0);
            await ns.WriteAsync((ulong)lba, fill);
        }

        var maxGeneration = 0;
        var failures = 0;
        string? firstFailure = null;
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(120));
        var readsDone = 0;

        async Task ReaderAsync(int seed)
        {
            var random = new Random(seed);
            var buffer = new byte[256 * Lba];
            for (var i = 0; i < 150 && !stop.IsCancellationRequested; i++)
            {
                var blocks = random.Next(3) == 0 ? random.Next(1, 9) : 8 * random.Next(1, 33); // 512 B .. 128 KiB
                var lba = (ulong)random.NextInt64(0, Blocks - blocks);
                var data = buffer.AsMemory(0, blocks * Lba);
                await ns.ReadAsync(lba, data, stop.Token);
                var ceiling = Volatile.Read(ref maxGeneration);
                for (var b = 0; b < blocks; b++)
                {
                    if (Check(data.Span.Slice(b * Lba, Lba), lba + (ulong)b, ceiling) is { } problem && Interlocked.Increment(ref failures) == 1)
                    {
                        firstFailure = $"read of {blocks} blocks at LBA {lba}: block {b}: {problem}";
                    }
                }

                Interlocked.Increment(ref readsDone);
            }
        }

        async Task WriterAsync(int seed)
        {
            var random = new Random(seed);
            var buffer = new byte[64 * Lba];
            for (var i = 0; i < 60 && !stop.IsCancellationRequested; i++)
            {
                var blocks = 8 * random.Next(1, 9);
                var lba = (ulong)random.NextInt64(0, Blocks - blocks);
                var generation = Interlocked.Increment(ref maxGeneration);
                Stamp(buffer.AsSpan(0, blocks * Lba), lba, (uint)generation);
                await ns.WriteAsync(lba, buffer.AsMemory(0, blocks * Lba), cancellationToken: stop.Token);
            }
        }

        var tasks = Enumerable.Range(0, 24).Select(i => Task.Run(() => ReaderAsync(100 + i)))
            .Concat(Enumerable.Range(0, 4).Select(i => Task.Run(() => WriterAsync(900 + i))));
        await Task.WhenAll(tasks);
        Assert.That(failures, Is.Zero, firstFailure);
        Assert.That(readsDone, Is.EqualTo(24 * 150));

        // Every read buffer went back to the budget once the socket took it (completions run on the send loop).
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (target.Server.Registry.Buffers.BytesInUse > 0 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(20);
        }

        Assert.That(target.Server.Registry.Buffers.BytesInUse, Is.Zero, "data buffers in use after all I/O completed");
    }

    /// <summary>Fills whole blocks: LBA (8 bytes), generation (4), then bytes derived from both.</summary>
    private static void Stamp(Span<byte> data, ulong firstLba, uint generation)
    {
        for (var b = 0; b * Lba < data.Length; b++)
        {
            var block = data.Slice(b * Lba, Lba);
            var lba = firstLba + (ulong)b;
            BinaryPrimitives.WriteUInt64LittleEndian(block, lba);
            BinaryPrimitives.WriteUInt32LittleEndian(block[8..], generation);
            for (var i = 12; i < Lba; i++)
            {
                block[i] = (byte)(lba * 31 + generation * 7 + (ulong)i);
            }
        }
    }

    private static string? Check(ReadOnlySpan<byte> block, ulong lba, int maxGeneration)
    {
        var named = BinaryPrimitives.ReadUInt64LittleEndian(block);
        var generation = BinaryPrimitives.ReadUInt32LittleEndian(block[8..]);
        if (named != lba)
        {
            return $"holds LBA {named}'s data";
        }

        if (generation > maxGeneration)
        {
            return $"generation {generation} was never written";
        }

        for (var i = 12; i < Lba; i++)
        {
            if (block[i] != (byte)(lba * 31 + generation * 7 + (ulong)i))
            {
                return $"byte {i} torn (generation {generation})";
            }
        }

        return null;
    }
}
