using System.Buffers;
using System.IO.Pipelines;
using NvmeMptls.Transport.Connections;

namespace NvmeMptls.Tests.Connections;

public sealed class PipeBufferPoolTests
{
    [TestCase(-1, 4096)]
    [TestCase(1, 4096)]
    [TestCase(4096, 4096)]
    [TestCase(4097, 8192)]
    [TestCase(16 * 1024 + 22, 32 * 1024)]
    [TestCase(65536, 65536)]
    [TestCase(1 << 20, 1 << 20)]
    public void Rent_GivesTheNextPowerOfTwoFrom4KiB(int size, int expected)
    {
        using var pool = new PipeBufferPool();
        using var block = pool.Rent(size);
        Assert.That(block.Memory.Length, Is.EqualTo(expected));
    }

    [Test]
    public void Rent_OverMaxBufferSize_Throws()
    {
        using var pool = new PipeBufferPool();
        Assert.That(() => pool.Rent(PipeBufferPool.MaxBlockSize + 1), Throws.InstanceOf<ArgumentOutOfRangeException>());
    }

    [Test]
    public void ReturnedBlock_IsRentedAgain_WithoutCreatingAnother()
    {
        using var pool = new PipeBufferPool();
        var first = pool.Rent(65536);
        var memory = first.Memory;
        first.Dispose();
        using var second = pool.Rent(65536);
        Assert.Multiple(() =>
        {
            Assert.That(second.Memory.Span.Overlaps(memory.Span), Is.True, "the same array came back");
            Assert.That(pool.BlocksCreated, Is.EqualTo(1));
        });
    }

    [Test]
    public void DisposingABlockTwice_DoesNotHandItToTwoRenters()
    {
        using var pool = new PipeBufferPool();
        var block = pool.Rent(4096);
        block.Dispose();
        block.Dispose();
        using var a = pool.Rent(4096);
        using var b = pool.Rent(4096);
        Assert.That(a.Memory.Span.Overlaps(b.Memory.Span), Is.False);
    }

    [Test]
    public void ReturnsBeyondTheRetentionCap_AreLeftToTheGc()
    {
        using var pool = new PipeBufferPool(maxRetainedBytesPerClass: 3 * 4096);
        var blocks = new List<System.Buffers.IMemoryOwner<byte>>();
        for (var i = 0; i < 10; i++)
        {
            blocks.Add(pool.Rent(4096));
        }

        blocks.ForEach(b => b.Dispose());
        Assert.That(pool.RetainedBytes, Is.EqualTo(3 * 4096));
    }

    [Test]
    public async Task APipeOnThePool_StopsCreatingBlocksOnceWarm()
    {
        using var pool = new PipeBufferPool();
        var pipe = new Pipe(new PipeOptions(pool: pool, minimumSegmentSize: 16 * 1024, pauseWriterThreshold: 0, useSynchronizationContext: false));
        var payload = new byte[128 * 1024];
        async Task RoundAsync()
        {
            await pipe.Writer.WriteAsync(payload);
            var result = await pipe.Reader.ReadAsync();
            Assert.That(result.Buffer.Length, Is.EqualTo(payload.Length));
            pipe.Reader.AdvanceTo(result.Buffer.End);
        }

        await RoundAsync();
        var created = pool.BlocksCreated;
        for (var i = 0; i < 100; i++)
        {
            await RoundAsync();
        }

        Assert.Multiple(() =>
        {
            Assert.That(created, Is.GreaterThan(0), "the pipe took its segments from the pool");
            Assert.That(pool.BlocksCreated, Is.EqualTo(created), "100 more 128 KiB round trips reused the same blocks");
        });
    }

    [Test]
    public void IdleTrim_DropsBlocksUnusedForAWholePeriod_KeepsThoseInUse()
    {
        var clock = new Microsoft.Extensions.Time.Testing.FakeTimeProvider();
        using var pool = new PipeBufferPool(idleTrim: TimeSpan.FromSeconds(30), time: clock);
        var burst = new List<IMemoryOwner<byte>>();
        for (var i = 0; i < 64; i++)
        {
            burst.Add(pool.Rent(16384));
        }

        foreach (var b in burst)
        {
            b.Dispose();
        }

        Assert.That(pool.RetainedBytes, Is.EqualTo(64 * 16384));
        clock.Advance(TimeSpan.FromSeconds(30)); // the burst happened during this period: nothing is idle for a whole one yet
        Assert.That(pool.RetainedBytes, Is.EqualTo(64 * 16384));

        // Steady use of 4 blocks through the next period keeps 4; the other 60 go.
        for (var round = 0; round < 3; round++)
        {
            var steady = new List<IMemoryOwner<byte>>();
            for (var i = 0; i < 4; i++)
            {
                steady.Add(pool.Rent(16384));
            }

            foreach (var b in steady)
            {
                b.Dispose();
            }
        }

        clock.Advance(TimeSpan.FromSeconds(30));
        Assert.That(pool.RetainedBytes, Is.EqualTo(4 * 16384));
        Assert.That(pool.TrimmedBytes, Is.EqualTo(60 * 16384));
        clock.Advance(TimeSpan.FromSeconds(30));
        Assert.That(pool.RetainedBytes, Is.Zero);
    }

    [Test]
    public void Trim_All_EmptiesThePool_AndRentStillWorks()
    {
        using var pool = new PipeBufferPool();
        pool.Rent(4096).Dispose();
        pool.Rent(1 << 20).Dispose();
        Assert.That(pool.Trim(all: true), Is.EqualTo(4096 + (1 << 20)));
        Assert.That(pool.RetainedBytes, Is.Zero);
        using var again = pool.Rent(4096);
        Assert.That(again.Memory.Length, Is.EqualTo(4096));
    }
}
