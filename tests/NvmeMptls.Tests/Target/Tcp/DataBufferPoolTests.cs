using Microsoft.Extensions.Time.Testing;
using NvmeMptls.Target.Tcp;

namespace NvmeMptls.Tests.Target.Tcp;

/// <summary>
/// The process-wide data buffer pool: never rents past its budget (a waiter is called back when bytes return),
/// reuses returned buffers, and drops those left unused through a whole trim period.
/// </summary>
public sealed class DataBufferPoolTests
{
    private const int MiB = 1 << 20;

    [Test]
    public async Task Rent_PastTheBudget_Fails_AndTheWaiterRunsWhenABufferComesBack()
    {
        using var pool = new DataBufferPool(2 * MiB, TimeSpan.FromMinutes(1), new FakeTimeProvider());
        var waiter = new Waiter();
        Assert.That(pool.TryRent(MiB, waiter, out var a), Is.True);
        Assert.That(pool.TryRent(MiB - 5, waiter, out var b), Is.True, "rounded up to 1 MiB: exactly the budget");
        Assert.That(pool.TryRent(4096, waiter, out _), Is.False, "a third buffer would pass the budget");
        Assert.That((pool.BytesInUse, waiter.Waiting), Is.EqualTo((2L * MiB, true)));

        pool.Return(a);
        await waiter.Woken.Task.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.That(waiter.Waiting, Is.False);
        Assert.That(pool.TryRent(MiB, waiter, out var c), Is.True);
        Assert.That(c, Is.SameAs(a), "the returned buffer is reused");
        pool.Return(b);
        pool.Return(c);
        Assert.That((pool.BytesInUse, pool.PeakBytesInUse, pool.BytesRetained), Is.EqualTo((0L, 2L * MiB, 2L * MiB)));
    }

    [Test]
    public void OneBufferLargerThanTheBudget_IsStillRentedWhenNothingElseIs()
    {
        using var pool = new DataBufferPool(64 << 10, TimeSpan.FromMinutes(1), new FakeTimeProvider());
        Assert.That(pool.TryRent(MiB, null, out var big), Is.True, "progress, not a stuck command");
        Assert.That(pool.TryRent(4096, null, out _), Is.False);
        pool.Return(big);
    }

    [Test]
    public void Trim_DropsOnlyBuffersUnusedThroughAWholePeriod()
    {
        var time = new FakeTimeProvider();
        var period = TimeSpan.FromSeconds(30);
        using var pool = new DataBufferPool(64 * MiB, period, time);
        var rented = new List<byte[]>();
        for (var i = 0; i < 4; i++)
        {
            Assert.That(pool.TryRent(MiB, null, out var buffer), Is.True);
            rented.Add(buffer);
        }

        rented.ForEach(pool.Return);
        time.Advance(period);
        Assert.That(pool.BytesRetained, Is.EqualTo(4L * MiB), "returned during the first period: kept");

        // One buffer is used again during the second period: only the three that stayed idle go.
        Assert.That(pool.TryRent(MiB, null, out var again), Is.True);
        pool.Return(again);
        time.Advance(period);
        Assert.That((pool.BytesRetained, pool.TrimmedBytes), Is.EqualTo((1L * MiB, 3L * MiB)));
        time.Advance(period);
        time.Advance(period);
        Assert.That((pool.BytesRetained, pool.TrimmedBytes), Is.EqualTo((0L, 4L * MiB)));
    }

    [Test]
    public void Dispose_DropsEverythingKept_AndLaterReturnsAreDropped()
    {
        var pool = new DataBufferPool(8 * MiB, TimeSpan.FromMinutes(1), new FakeTimeProvider());
        Assert.That(pool.TryRent(MiB, null, out var kept), Is.True);
        Assert.That(pool.TryRent(MiB, null, out var late), Is.True);
        pool.Return(kept);
        pool.Dispose();
        Assert.That(pool.BytesRetained, Is.Zero);
        pool.Return(late);
        Assert.That((pool.BytesRetained, pool.BytesInUse), Is.EqualTo((0L, 0L)));
    }

    private sealed class Waiter : IBufferWaiter
    {
        public TaskCompletionSource Woken { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public bool Waiting { get; set; }

        public void Execute() => Woken.TrySetResult();
    }
}
