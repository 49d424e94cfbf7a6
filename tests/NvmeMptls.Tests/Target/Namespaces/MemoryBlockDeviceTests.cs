using NvmeMptls.Target.Namespaces;

namespace NvmeMptls.Tests.Target.Namespaces;

public class MemoryBlockDeviceTests
{
    [Test]
    public async Task MemoryBlockDevice_OneGibNamespace_CommitsNoChunksUntilWritten()
    {
        long before = GC.GetTotalMemory(forceFullCollection: true);
        await using var device = new MemoryBlockDevice(1L << 30);
        long after = GC.GetTotalMemory(forceFullCollection: true);

        Assert.That(device.AllocatedChunks, Is.Zero);
        Assert.That(after - before, Is.LessThan(1 << 20), "a 1 GiB namespace must not commit its memory up front");

        await device.WriteAsync(512L << 20, new byte[512], forceUnitAccess: false);
        Assert.That(device.AllocatedChunks, Is.EqualTo(1));
        Assert.That(device.AllocatedBytes, Is.EqualTo(MemoryBlockDevice.DefaultChunkSize));
    }

    [Test]
    public async Task MemoryBlockDevice_UnwrittenRange_ReadsZeroes()
    {
        await using var device = new MemoryBlockDevice(8L << 20);
        var data = new byte[4096];
        Array.Fill(data, (byte)0xA5);
        await device.ReadAsync(3L << 20, data);
        Assert.That(data, Is.All.Zero);
    }

    [Test]
    public async Task MemoryBlockDevice_WriteAcrossChunkBoundary_ReadsBack()
    {
        await using var device = new MemoryBlockDevice(4L << 20, chunkSize: 1 << 20);
        byte[] data = BlockDeviceWorkload.Pattern(8192, 1);
        long offset = (1L << 20) - 4096;
        await device.WriteAsync(offset, data, forceUnitAccess: true);

        var back = new byte[8192];
        await device.ReadAsync(offset, back);
        Assert.That(back, Is.EqualTo(data));
        Assert.That(device.AllocatedChunks, Is.EqualTo(2));
    }

    [Test]
    public async Task MemoryBlockDevice_DeallocateWholeChunk_ReleasesItAndPartialChunkIsZeroed()
    {
        await using var device = new MemoryBlockDevice(4L << 20);
        byte[] data = BlockDeviceWorkload.Pattern(3 << 20, 2);
        await device.WriteAsync(0, data, forceUnitAccess: false);
        Assert.That(device.AllocatedChunks, Is.EqualTo(3));

        // Covers all of chunk 1 and the first 4 KiB of chunk 2.
        await device.DeallocateAsync(1L << 20, (1L << 20) + 4096);
        Assert.That(device.AllocatedChunks, Is.EqualTo(2));

        var back = new byte[3 << 20];
        await device.ReadAsync(0, back);
        Assert.That(back.AsSpan(0, 1 << 20).SequenceEqual(data.AsSpan(0, 1 << 20)), Is.True, "chunk 0 untouched");
        Assert.That(back.AsSpan(1 << 20, (1 << 20) + 4096).IndexOfAnyExcept((byte)0), Is.EqualTo(-1), "deallocated range reads zeroes");
        Assert.That(back.AsSpan((2 << 20) + 4096).SequenceEqual(data.AsSpan((2 << 20) + 4096)), Is.True, "rest of chunk 2 untouched");
    }

    [Test]
    public async Task MemoryBlockDevice_WriteZeroesWholeChunks_ReleasesThem()
    {
        await using var device = new MemoryBlockDevice(4L << 20);
        await device.WriteAsync(0, BlockDeviceWorkload.Pattern(4 << 20, 3), forceUnitAccess: false);
        await device.WriteZeroesAsync(0, 4L << 20, deallocate: false);
        Assert.That(device.AllocatedChunks, Is.Zero);
    }

    [Test]
    public async Task MemoryBlockDevice_ConcurrentRandomDisjointIo_MatchesModel()
    {
        // 64 KiB chunks so that workers keep meeting in the same chunk, including its first allocation.
        await using var device = new MemoryBlockDevice(16L << 20, 512, chunkSize: 64 * 1024);
        await BlockDeviceWorkload.RunAndVerifyAsync(device, device.SizeBytes, workers: 4, operationsPerWorker: 4000, seed: 7);
    }

    /// <summary>
    /// AWUN 0: one block is atomic. Writers rewrite, zero and deallocate overlapping ranges of one 256 KiB region (two
    /// 128 KiB chunks) while readers read across it: every 512-byte block read holds a single writer's bytes (or
    /// zeroes), never a mix, and after the writers stop every block holds one writer's bytes whole.
    /// </summary>
    [Test]
    public async Task MemoryBlockDevice_OverlappingWritesRacingReads_EveryBlockWhole()
    {
        const int Block = 512;
        const int Region = 256 * 1024;
        await using var device = new MemoryBlockDevice(1L << 20, Block, chunkSize: 128 * 1024);
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(1.5));
        var torn = 0;
        var reads = 0;
        string? first = null;

        void Writer(int seed)
        {
            var random = new Random(seed);
            var buffer = new byte[64 * 1024];
            while (!stop.IsCancellationRequested)
            {
                int blocks = random.Next(1, buffer.Length / Block + 1);
                long offset = (long)random.Next(0, (Region / Block) - blocks + 1) * Block;
                int action = random.Next(20);
                if (action == 0)
                {
                    device.DeallocateAsync(offset, (long)blocks * Block).AsTask().Wait();
                }
                else if (action == 1)
                {
                    device.DeallocateAsync(0, 128 * 1024).AsTask().Wait(); // a whole chunk dropped
                }
                else
                {
                    buffer.AsSpan(0, blocks * Block).Fill((byte)random.Next(1, 256));
                    device.WriteAsync(offset, buffer.AsMemory(0, blocks * Block), false).AsTask().Wait();
                }
            }
        }

        void Reader()
        {
            var buffer = new byte[Region];
            while (!stop.IsCancellationRequested)
            {
                device.ReadAsync(0, buffer).AsTask().Wait();
                Interlocked.Increment(ref reads);
                for (int b = 0; b < Region / Block; b++)
                {
                    var block = buffer.AsSpan(b * Block, Block);
                    if (block.IndexOfAnyExcept(block[0]) is var at and >= 0 && Interlocked.Increment(ref torn) == 1)
                    {
                        first = $"block {b}: byte 0 is {block[0]}, byte {at} is {block[at]}";
                    }
                }
            }
        }

        var threads = new[] { 1, 2 }.Select(seed => new Thread(() => Writer(seed))).Concat(new[] { new Thread(Reader), new Thread(Reader) }).ToArray();
        foreach (var thread in threads)
        {
            thread.Start();
        }

        foreach (var thread in threads)
        {
            thread.Join();
        }

        Assert.That(reads, Is.GreaterThan(0));
        Assert.That(torn, Is.Zero, first);

        var final = new byte[Region];
        await device.ReadAsync(0, final);
        for (int b = 0; b < Region / Block; b++)
        {
            var block = final.AsSpan(b * Block, Block);
            Assert.That(block.IndexOfAnyExcept(block[0]), Is.EqualTo(-1), $"block {b} left mixed by two racing writes");
        }
    }

    [Test]
    public async Task MemoryBlockDevice_SteadyStateIo_DoesNotAllocate()
    {
        await using var device = new MemoryBlockDevice(4L << 20);
        var buffer = new byte[4096];
        await device.WriteAsync(0, buffer, false);
        await device.ReadAsync(0, buffer);

        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 1000; i++)
        {
            await device.WriteAsync(4096L * (i % 64), buffer, false);
            await device.ReadAsync(4096L * (i % 64), buffer);
        }

        Assert.That(GC.GetAllocatedBytesForCurrentThread() - before, Is.Zero);
    }

    [Test]
    public void MemoryBlockDevice_OutOfRangeAccess_Throws()
    {
        var device = new MemoryBlockDevice(1L << 20);
        Assert.ThrowsAsync<ArgumentOutOfRangeException>(async () => await device.ReadAsync((1L << 20) - 512, new byte[1024]));
        Assert.ThrowsAsync<ArgumentOutOfRangeException>(async () => await device.WriteAsync(-512, new byte[512], false));
    }

    [TestCase(0L, 512)]
    [TestCase(1000L, 512)]
    [TestCase(4096L, 1000)]
    public void MemoryBlockDevice_BadGeometry_IsRejected(long size, int lba)
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => _ = new MemoryBlockDevice(size, lba));
    }
}
