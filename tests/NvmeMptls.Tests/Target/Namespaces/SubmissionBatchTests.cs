using NvmeMptls.Target.Namespaces;

namespace NvmeMptls.Tests.Target.Namespaces;

/// <summary>
/// Submissions held back for one receive burst, against a real ring on a real file (O_DIRECT in /var/tmp): without
/// SQPOLL the kernel sees no entry before io_uring_enter, so "not complete before the flush" is exact, not timing.
/// </summary>
public sealed class SubmissionBatchTests
{
    private const int Block = 4096;
    private string _directory = "";

    [SetUp]
    public void SetUp() => _directory = IoUringTestDirectory.CreateForIoUring("nvmemptls-batch-");

    [TearDown]
    public void TearDown() => IoUringTestDirectory.Delete(_directory);

    [Test]
    public async Task InsideTheScope_ReadsWaitInTheRing_ThenOneEnterSubmitsThemAll_EachWithItsOwnBlock()
    {
        const int Reads = 16;
        (string path, byte[] content) = CreateFile("batch.img", Reads);
        using IoUringFile file = Open(path);
        var batch = new SubmissionBatch();

        var (reads, buffers) = StartHeld(file, batch, Reads, i => (Reads - 1 - i) * (long)Block);

        Assert.That(SubmissionBatch.Current, Is.Null, "the scope ended");
        Assert.That(batch.HasPending, Is.True);
        Assert.That(file.SubmitCalls, Is.Zero, "nothing entered the kernel inside the scope");
        await Task.Delay(100);
        Assert.That(reads.Count(r => r.IsCompleted), Is.Zero, "the kernel never saw the entries");

        batch.Flush();
        await Task.WhenAll(reads).WaitAsync(TimeSpan.FromSeconds(30));
        Assert.That(batch.HasPending, Is.False);
        Assert.That((file.SubmitCalls, file.EntriesSubmitted), Is.EqualTo((1L, (long)Reads)), "one io_uring_enter for the whole burst");
        for (int i = 0; i < Reads; i++)
        {
            int at = (Reads - 1 - i) * Block;
            Assert.That(buffers[i].AsSpan().SequenceEqual(content.AsSpan(at, Block)), Is.True, $"read {i}");
        }

        batch.Flush();
        Assert.That(file.SubmitCalls, Is.EqualTo(1), "a second flush has nothing to submit");
    }

    [Test]
    public async Task OutsideTheScope_AReadGoesInAtOnce_AndTakesTheHeldBackOnesWithIt()
    {
        (string path, byte[] content) = CreateFile("other.img", 8);
        using IoUringFile file = Open(path);
        var batch = new SubmissionBatch();

        var (heldReads, held) = StartHeld(file, batch, 4, i => i * (long)Block);

        // Another thread, no scope: it enters the kernel with every entry prepared so far, so the batch's are not stranded.
        var other = new byte[Block];
        await Task.Run(() => file.ReadAsync(7L * Block, other).AsTask()).WaitAsync(TimeSpan.FromSeconds(30));
        await Task.WhenAll(heldReads).WaitAsync(TimeSpan.FromSeconds(30));
        Assert.That(other.AsSpan().SequenceEqual(content.AsSpan(7 * Block, Block)), Is.True);
        for (int i = 0; i < held.Length; i++)
        {
            Assert.That(held[i].AsSpan().SequenceEqual(content.AsSpan(i * Block, Block)), Is.True, $"held read {i}");
        }

        Assert.That((file.SubmitCalls, file.EntriesSubmitted), Is.EqualTo((1L, 5L)));
        batch.Flush();
        Assert.That(file.SubmitCalls, Is.EqualTo(1), "the batch's entries were already in");
    }

    [Test]
    public void TheScopeBelongsToItsThread_AnotherThreadStartsOutsideIt()
    {
        var batch = new SubmissionBatch();
        var previous = batch.Enter();
        try
        {
            Assert.That(SubmissionBatch.Current, Is.SameAs(batch));
            Assert.That(ThreadProbe.OnNewThread(() => SubmissionBatch.Current), Is.Null);
            var inner = new SubmissionBatch();
            var outer = inner.Enter();
            Assert.That(SubmissionBatch.Current, Is.SameAs(inner));
            SubmissionBatch.Exit(outer);
            Assert.That(SubmissionBatch.Current, Is.SameAs(batch), "nested scopes restore the outer one");
        }
        finally
        {
            SubmissionBatch.Exit(previous);
        }

        Assert.That(SubmissionBatch.Current, Is.Null);
    }

    [Test]
    public async Task Dispose_WithEveryRequestSlotHeldBack_SubmitsThemAndCloses()
    {
        (string path, byte[] content) = CreateFile("full.img", 8);
        IoUringFile file = Open(path, entries: 8);
        var batch = new SubmissionBatch();
        var (reads, buffers) = StartHeld(file, batch, file.Capacity, i => i * (long)Block);

        // Every slot holds an entry nobody has entered: Dispose's wake-up NOP (in the one entry kept free for it) must
        // take them into the kernel with it, not wait for a flush that may never come.
        await Task.Run(file.Dispose).WaitAsync(TimeSpan.FromSeconds(30));
        await Task.WhenAll(reads).WaitAsync(TimeSpan.FromSeconds(30));
        for (int i = 0; i < reads.Length; i++)
        {
            Assert.That(buffers[i].AsSpan().SequenceEqual(content.AsSpan(i * Block, Block)), Is.True, $"read {i}");
        }

        batch.Flush(); // after the close: nothing left to submit, and no failure
        Assert.That(file.InFlight, Is.Zero);
    }

    /// <summary>Starts <paramref name="count"/> 4 KiB reads inside <paramref name="batch"/>'s scope on this thread.</summary>
    private static (Task[] Reads, byte[][] Buffers) StartHeld(IoUringFile file, SubmissionBatch batch, int count, Func<int, long> offset)
    {
        var buffers = new byte[count][];
        var reads = new Task[count];
        var previous = batch.Enter();
        try
        {
            for (int i = 0; i < count; i++)
            {
                buffers[i] = new byte[Block];
                reads[i] = file.ReadAsync(offset(i), buffers[i]).AsTask();
            }
        }
        finally
        {
            SubmissionBatch.Exit(previous);
        }

        return (reads, buffers);
    }

    private (string Path, byte[] Content) CreateFile(string name, int blocks)
    {
        string path = Path.Combine(_directory, name);
        byte[] content = BlockDeviceWorkload.Pattern(blocks * Block, 31);
        File.WriteAllBytes(path, content);
        return (path, content);
    }

    private static IoUringFile Open(string path, uint entries = IoUringFile.DefaultEntries) => IoUringFileTests.Open(path, entries: entries);
}
