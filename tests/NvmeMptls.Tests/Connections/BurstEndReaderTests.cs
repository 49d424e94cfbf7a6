using System.Buffers;
using System.IO.Pipelines;
using NvmeMptls.Transport.Connections;

namespace NvmeMptls.Tests.Connections;

/// <summary>
/// <see cref="BurstEndReader"/>: the burst ends exactly when a read would have to wait for new bytes (everything
/// received was examined), never while received bytes are left to read; a burst-end flush that waits delays the read;
/// the next burst starts when new bytes return from the read.
/// </summary>
public sealed class BurstEndReaderTests
{
    private sealed class Recorder : IReceiveBurst
    {
        public List<string> Events { get; } = [];
        public TaskCompletionSource? Hold { get; set; }

        public ValueTask OnBurstEndAsync(CancellationToken cancellationToken)
        {
            Events.Add("end");
            return Hold is { } hold ? new ValueTask(hold.Task) : default;
        }

        public void OnBurstStart() => Events.Add("start");
    }

    private static async Task WriteAsync(Pipe pipe, params byte[] bytes)
    {
        await pipe.Writer.WriteAsync(bytes);
    }

    [Test]
    public async Task FirstRead_EndsTheEmptyBurst_ThenStartsOneWhenBytesCome()
    {
        var pipe = new Pipe();
        var burst = new Recorder();
        var reader = new BurstEndReader(pipe.Reader, burst);

        var read = reader.ReadAsync();
        Assert.That(burst.Events, Is.EqualTo(new[] { "end" }), "the burst ends before the first wait");
        Assert.That(read.IsCompleted, Is.False);
        await WriteAsync(pipe, 1, 2, 3);
        var result = await read;
        Assert.That(result.Buffer.ToArray(), Is.EqualTo(new byte[] { 1, 2, 3 }));
        Assert.That(burst.Events, Is.EqualTo(new[] { "end", "start" }));
    }

    [Test]
    public async Task BytesLeftAfterConsume_NextReadReturnsThem_WithoutEndingTheBurst()
    {
        var pipe = new Pipe();
        var burst = new Recorder();
        var reader = new BurstEndReader(pipe.Reader, burst);
        await WriteAsync(pipe, 1, 2, 3, 4);
        var first = await reader.ReadAsync();
        reader.AdvanceTo(first.Buffer.GetPosition(2)); // one PDU used, the next one already here
        burst.Events.Clear();

        var second = await reader.ReadAsync();
        Assert.That(second.Buffer.ToArray(), Is.EqualTo(new byte[] { 3, 4 }));
        Assert.That(burst.Events, Is.Empty, "received bytes are left: the burst goes on");

        reader.AdvanceTo(second.Buffer.End);
        var third = reader.ReadAsync();
        Assert.That(burst.Events, Is.EqualTo(new[] { "end" }), "everything used: the burst ends before the wait");
        Assert.That(third.IsCompleted, Is.False);
        await WriteAsync(pipe, 5);
        Assert.That((await third).Buffer.ToArray(), Is.EqualTo(new byte[] { 5 }));
        Assert.That(burst.Events, Is.EqualTo(new[] { "end", "start" }));
    }

    [Test]
    public async Task BurstBoundReached_EndsTheBurstThoughBytesWait_AndReturnsThemAtOnce()
    {
        var pipe = new Pipe();
        var burst = new Recorder();
        var reader = new BurstEndReader(pipe.Reader, burst, maxBurstBytes: 100);
        await pipe.Writer.WriteAsync(new byte[250]);
        var first = await reader.ReadAsync();
        burst.Events.Clear();
        reader.AdvanceTo(first.Buffer.GetPosition(60));
        var second = await reader.ReadAsync();
        Assert.That(burst.Events, Is.Empty, "60 of 100 bytes: the burst goes on");
        reader.AdvanceTo(second.Buffer.GetPosition(60));

        var third = reader.ReadAsync();
        Assert.That(third.IsCompleted, Is.True, "the bytes are here: no wait");
        Assert.That((await third).Buffer.Length, Is.EqualTo(130));
        Assert.That(burst.Events, Is.EqualTo(new[] { "end", "start" }), "120 bytes used: the burst ends although more wait");
    }

    [Test]
    public async Task PartialPduExamined_EndsTheBurst_AndTheReadReturnsOldAndNewBytes()
    {
        var pipe = new Pipe();
        var burst = new Recorder();
        var reader = new BurstEndReader(pipe.Reader, burst);
        await WriteAsync(pipe, 1, 2);
        var first = await reader.ReadAsync();
        reader.AdvanceTo(first.Buffer.Start, first.Buffer.End); // a header needs more bytes than these
        burst.Events.Clear();

        var next = reader.ReadAsync();
        Assert.That(burst.Events, Is.EqualTo(new[] { "end" }));
        await WriteAsync(pipe, 3);
        Assert.That((await next).Buffer.ToArray(), Is.EqualTo(new byte[] { 1, 2, 3 }));
        Assert.That(burst.Events, Is.EqualTo(new[] { "end", "start" }));
    }

    [Test]
    public async Task BurstEndFlushWaits_TheReadWaitsForIt_EvenWithBytesReady()
    {
        var pipe = new Pipe();
        var burst = new Recorder { Hold = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously) };
        var reader = new BurstEndReader(pipe.Reader, burst);
        await WriteAsync(pipe, 7);

        var read = reader.ReadAsync().AsTask();
        await Task.Delay(50);
        Assert.That(read.IsCompleted, Is.False, "the read does not overtake a burst-end flush that waits for the peer");
        burst.Hold.SetResult();
        Assert.That((await read.WaitAsync(TimeSpan.FromSeconds(10))).Buffer.ToArray(), Is.EqualTo(new byte[] { 7 }));
        Assert.That(burst.Events, Is.EqualTo(new[] { "end", "start" }));
    }

    [Test]
    public async Task BurstEndFlushFails_TheReadFailsWithIt()
    {
        var pipe = new Pipe();
        var burst = new Recorder { Hold = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously) };
        var reader = new BurstEndReader(pipe.Reader, burst);
        var read = reader.ReadAsync().AsTask();
        burst.Hold.SetException(new IOException("peer gone"));
        Assert.That(async () => await read.WaitAsync(TimeSpan.FromSeconds(10)), Throws.InstanceOf<IOException>().With.Message.EqualTo("peer gone"));
    }

    [Test]
    public async Task WriterCompleted_ReadReturnsCompletion()
    {
        var pipe = new Pipe();
        var burst = new Recorder();
        var reader = new BurstEndReader(pipe.Reader, burst);
        await WriteAsync(pipe, 9);
        await pipe.Writer.CompleteAsync();
        var first = await reader.ReadAsync();
        Assert.That(first.IsCompleted, Is.True);
        reader.AdvanceTo(first.Buffer.End);
        var last = await reader.ReadAsync();
        Assert.That(last.IsCompleted && last.Buffer.IsEmpty, Is.True);
        await reader.CompleteAsync();
    }
}
