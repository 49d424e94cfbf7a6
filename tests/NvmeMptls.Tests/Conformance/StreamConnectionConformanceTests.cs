using System.Buffers;
using System.Buffers.Binary;
using System.IO.Pipelines;
using System.Security.Cryptography;
using NvmeMptls.Transport.Connections;

namespace NvmeMptls.Tests.Conformance;

/// <summary>
/// What every duplex transport must do, whatever carries the bytes. A transport (or a layer over one, such
/// as TLS over TCP) joins by deriving and returning a connected pair from <see cref="CreatePairAsync"/>.
/// Waits are bounded by <see cref="HangLimit"/> so a broken transport fails instead of hanging the run;
/// no test asserts on how fast anything is.
/// </summary>
public abstract class StreamConnectionConformanceTests
{
    /// <summary>A connected pair; the test disposes both.</summary>
    protected abstract Task<(StreamConnection Client, StreamConnection Server)> CreatePairAsync();

    /// <summary>How long a single step may wait before the test calls it a hang.</summary>
    protected virtual TimeSpan HangLimit => TimeSpan.FromSeconds(60);

    /// <summary>Bytes sent each way by the large-transfer test.</summary>
    protected virtual int LargeTransferBytes => 64 << 20;

    [Test]
    public async Task Ordering_NumberedMessagesBothWays_ArriveInOrder()
    {
        var (client, server) = await CreatePairAsync();
        await using var c = client;
        await using var s = server;
        const int Count = 20_000;
        var a = Guard(SendNumbersAsync(client.Output, Count));
        var b = Guard(SendNumbersAsync(server.Output, Count));
        var ra = Guard(ReadNumbersAsync(server.Input, Count));
        var rb = Guard(ReadNumbersAsync(client.Input, Count));
        await Task.WhenAll(a, b, ra, rb);
    }

    [Test]
    public async Task PartialIo_ManyTinyWritesAndOddSizedReads_BytesIntact()
    {
        var (client, server) = await CreatePairAsync();
        await using var c = client;
        await using var s = server;
        var expected = Pattern(200_003, seed: 7);
        var writer = Guard(WriteInPiecesAsync(client.Output, expected, [1, 2, 3, 5, 7, 11, 13, 1021], complete: true));
        var received = await Guard(ReadInOddPiecesAsync(server.Input, expected.Length));
        await writer;
        Assert.That(received, Is.EqualTo(expected));
    }

    [Test]
    public async Task LargeTransfer_BothDirectionsAtOnce_ChecksumsMatch()
    {
        var (client, server) = await CreatePairAsync();
        await using var c = client;
        await using var s = server;
        var sendA = Guard(SendRandomAsync(client.Output, LargeTransferBytes, seed: 1, complete: true));
        var sendB = Guard(SendRandomAsync(server.Output, LargeTransferBytes, seed: 2, complete: true));
        var recvB = Guard(HashToEndAsync(server.Input));
        var recvA = Guard(HashToEndAsync(client.Input));
        await Task.WhenAll(sendA, sendB, recvA, recvB);
        Assert.Multiple(() =>
        {
            Assert.That(recvB.Result.Length, Is.EqualTo(LargeTransferBytes), "client->server byte count");
            Assert.That(recvA.Result.Length, Is.EqualTo(LargeTransferBytes), "server->client byte count");
            Assert.That(recvB.Result.Hash, Is.EqualTo(sendA.Result), "client->server SHA-256");
            Assert.That(recvA.Result.Hash, Is.EqualTo(sendB.Result), "server->client SHA-256");
        });
    }

    [Test]
    public async Task HalfClose_ClientCompletesOutput_ServerSeesEndAndCanStillSend()
    {
        var (client, server) = await CreatePairAsync();
        await using var c = client;
        await using var s = server;
        var request = Pattern(4096, seed: 3);
        await Guard(client.Output.WriteAsync(request).AsTask());
        await client.Output.CompleteAsync();

        var atServer = await Guard(ReadToEndAsync(server.Input));
        Assert.That(atServer, Is.EqualTo(request), "server reads everything, then end of stream");

        var reply = Pattern(4 << 20, seed: 4);
        var readAtClient = Guard(ReadToEndAsync(client.Input));
        await Guard(WriteInPiecesAsync(server.Output, reply, [65536], complete: true));
        var atClient = await readAtClient;
        Assert.That(atClient, Is.EqualTo(reply), "client still receives after its own half-close");
    }

    [Test]
    public async Task Abort_PeerReadFailsWithIOException_NotHang()
    {
        var (client, server) = await CreatePairAsync();
        await using var c = client;
        await using var s = server;
        await Guard(client.Output.WriteAsync(Pattern(1000, seed: 5)).AsTask());
        await Guard(ReadExactlyAsync(server.Input, 1000));

        client.Abort(new IOException("test abort"));

        Assert.That(async () => await Guard(ReadToEndAsync(server.Input)), Throws.InstanceOf<IOException>());
    }

    [Test]
    public async Task Abort_PeerWritesFailWithIOException_NotHang()
    {
        var (client, server) = await CreatePairAsync();
        await using var c = client;
        await using var s = server;
        client.Abort(new IOException("test abort"));

        // A socket may take the first writes into its kernel buffer before the RST lands; a bounded
        // amount of writing must end in an IOException, never in silent success or another type.
        var chunk = new byte[64 * 1024];
        Assert.That(async () =>
        {
            for (int i = 0; i < 4096; i++)
            {
                var flush = await Guard(server.Output.WriteAsync(chunk).AsTask());
                if (flush.IsCompleted)
                    throw new AssertionException("write reported completion instead of an error after the peer aborted");
            }
        }, Throws.InstanceOf<IOException>());
    }

    [Test]
    public async Task BackPressure_ReaderStalls_WriterPausesAndNothingIsLost()
    {
        var (client, server) = await CreatePairAsync();
        await using var c = client;
        await using var s = server;
        int total = LargeTransferBytes;
        var paused = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        long writtenAtPause = -1;
        var writer = Task.Run(async () =>
        {
            var data = new byte[32 * 1024];
            var rng = new Random(11);
            using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            long written = 0;
            while (written < total)
            {
                rng.NextBytes(data);
                hash.AppendData(data);
                data.CopyTo(client.Output.GetSpan(data.Length));
                client.Output.Advance(data.Length);
                written += data.Length;
                var flush = client.Output.FlushAsync();
                if (!flush.IsCompleted && Interlocked.CompareExchange(ref writtenAtPause, written, -1) == -1)
                    paused.TrySetResult();
                await flush;
            }
            await client.Output.CompleteAsync();
            return hash.GetHashAndReset();
        });

        var first = await Guard(Task.WhenAny(paused.Task, writer));
        Assert.That(first, Is.SameAs(paused.Task), "the writer must be paused while nobody reads");
        Assert.That(Interlocked.Read(ref writtenAtPause), Is.LessThan(total));

        var received = await Guard(HashToEndAsync(server.Input));
        var sent = await Guard(writer);
        Assert.That(received.Length, Is.EqualTo(total));
        Assert.That(received.Hash, Is.EqualTo(sent));
    }

    [Test]
    public async Task Dispose_Twice_IsHarmlessAndPeerSeesOrderlyEnd()
    {
        var (client, server) = await CreatePairAsync();
        var payload = Pattern(10_000, seed: 9);
        await Guard(client.Output.WriteAsync(payload).AsTask());
        await Guard(client.DisposeAsync().AsTask());
        await Guard(client.DisposeAsync().AsTask());

        var atServer = await Guard(ReadToEndAsync(server.Input));
        Assert.That(atServer, Is.EqualTo(payload), "bytes written before dispose are delivered, then end of stream");
        await Guard(server.DisposeAsync().AsTask());
        Assert.That(async () => await server.DisposeAsync(), Throws.Nothing);
        Assert.That(() => client.Abort(), Throws.Nothing, "abort after dispose");
    }

    [Test]
    public async Task PauseReceiving_WhileDataFlows_ResumeLosesAndDuplicatesNothing()
    {
        var (client, server) = await CreatePairAsync();
        await using var _ = client;
        await using var __ = server;
        if (!await Guard(server.PauseReceivingAsync().AsTask()))
        {
            // Only sockets can pause (they are what hands over to kTLS); for the others the calls must be harmless.
            server.ResumeReceiving();
            await Guard(client.Output.WriteAsync(Pattern(10_000, seed: 4)).AsTask());
            Assert.That(await Guard(ReadExactlyAsync(server.Input, 10_000)), Is.EqualTo(Pattern(10_000, seed: 4)),
                $"{server.TransportName}: a carrier that cannot pause keeps delivering");
            return;
        }

        // Paused before anything was sent: nothing reaches user space until resume.
        await Guard(client.Output.WriteAsync(Pattern(10_000, seed: 3)).AsTask());
        await Task.Delay(100);
        Assert.That(server.Input.TryRead(out var early), Is.False, "a paused carrier must not read from the kernel");
        server.ResumeReceiving();
        Assert.That(await Guard(ReadExactlyAsync(server.Input, 10_000)), Is.EqualTo(Pattern(10_000, seed: 3)));

        // Paused and resumed many times while 8 MiB flow: every byte exactly once, in order.
        const long Total = 8 << 20;
        var writer = SendRandomAsync(client.Output, Total, seed: 11, complete: true);
        var reader = HashToEndAsync(server.Input);
        for (var i = 0; i < 20 && !writer.IsCompleted; i++)
        {
            Assert.That(await Guard(server.PauseReceivingAsync().AsTask()), Is.True);
            await Task.Delay(2);
            server.ResumeReceiving();
            await Task.Delay(3);
        }

        var sent = await Guard(writer);
        var received = await Guard(reader);
        Assert.That(received.Length, Is.EqualTo(Total));
        Assert.That(received.Hash, Is.EqualTo(sent));
    }

    // ---- helpers for this suite and for transports that add their own tests ----

    /// <summary>Awaits <paramref name="task"/> or fails the test if it does not finish within <see cref="HangLimit"/>.</summary>
    protected async Task<T> Guard<T>(Task<T> task)
    {
        try
        {
            return await task.WaitAsync(HangLimit);
        }
        catch (TimeoutException)
        {
            throw new AssertionException($"step did not finish within {HangLimit}: the transport hangs");
        }
    }

    protected async Task Guard(Task task) => await Guard(task.ContinueWith(t => { t.GetAwaiter().GetResult(); return true; },
        CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default));

    /// <summary>Deterministic bytes.</summary>
    protected static byte[] Pattern(int length, int seed)
    {
        var data = new byte[length];
        new Random(seed).NextBytes(data);
        return data;
    }

    protected static async Task SendNumbersAsync(PipeWriter output, int count)
    {
        for (int i = 0; i < count; i++)
        {
            BinaryPrimitives.WriteInt32LittleEndian(output.GetSpan(4), i);
            output.Advance(4);
            if (i % 17 == 0)
                await output.FlushAsync();
        }
        await output.FlushAsync();
    }

    protected static async Task ReadNumbersAsync(PipeReader input, int count)
    {
        int next = 0;
        while (next < count)
        {
            var result = await input.ReadAsync();
            var buffer = result.Buffer;
            var reader = new SequenceReader<byte>(buffer);
            while (next < count && reader.TryReadLittleEndian(out int value))
            {
                if (value != next)
                    throw new AssertionException($"expected message {next}, got {value}");
                next++;
            }
            input.AdvanceTo(reader.Position, buffer.End);
            if (result.IsCompleted && next < count)
                throw new AssertionException($"stream ended after {next} of {count} messages");
        }
    }

    /// <summary>Writes <paramref name="data"/> cycling through the piece sizes, flushing after each piece.</summary>
    protected static async Task WriteInPiecesAsync(PipeWriter output, ReadOnlyMemory<byte> data, int[] pieces, bool complete)
    {
        int i = 0;
        while (!data.IsEmpty)
        {
            int n = Math.Min(pieces[i++ % pieces.Length], data.Length);
            await output.WriteAsync(data[..n]);
            data = data[n..];
        }
        if (complete)
            await output.CompleteAsync();
    }

    /// <summary>Reads <paramref name="count"/> bytes consuming odd amounts each time (examining everything).</summary>
    protected static async Task<byte[]> ReadInOddPiecesAsync(PipeReader input, int count)
    {
        var result = new byte[count];
        int got = 0;
        int[] takes = [3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 997];
        int t = 0;
        while (got < count)
        {
            var read = await input.ReadAsync();
            var buffer = read.Buffer;
            int n = (int)Math.Min(Math.Min(buffer.Length, takes[t++ % takes.Length]), count - got);
            buffer.Slice(0, n).CopyTo(result.AsSpan(got));
            got += n;
            // Consumed n, examined everything only when nothing was taken, so the next read returns at once.
            input.AdvanceTo(buffer.GetPosition(n), n == 0 ? buffer.End : buffer.GetPosition(n));
            if (n == 0 && read.IsCompleted)
                throw new AssertionException($"stream ended after {got} of {count} bytes");
        }
        return result;
    }

    protected static async Task<byte[]> ReadExactlyAsync(PipeReader input, int count)
    {
        var result = await input.ReadAtLeastAsync(count);
        if (result.Buffer.Length < count)
            throw new AssertionException($"stream ended after {result.Buffer.Length} of {count} bytes");
        var bytes = result.Buffer.Slice(0, count).ToArray();
        input.AdvanceTo(result.Buffer.GetPosition(count));
        return bytes;
    }

    /// <summary>Reads until the peer completes; throws whatever the pipe reports instead.</summary>
    protected static async Task<byte[]> ReadToEndAsync(PipeReader input)
    {
        using var all = new MemoryStream();
        while (true)
        {
            var result = await input.ReadAsync();
            foreach (var segment in result.Buffer)
                all.Write(segment.Span);
            input.AdvanceTo(result.Buffer.End);
            if (result.IsCompleted)
                return all.ToArray();
        }
    }

    /// <summary>Sends <paramref name="total"/> seeded random bytes; returns their SHA-256.</summary>
    protected static async Task<byte[]> SendRandomAsync(PipeWriter output, long total, int seed, bool complete)
    {
        await Task.Yield();
        var rng = new Random(seed);
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        long left = total;
        while (left > 0)
        {
            int n = (int)Math.Min(left, 61_441);
            var span = output.GetSpan(n)[..n];
            rng.NextBytes(span);
            hash.AppendData(span);
            output.Advance(n);
            left -= n;
            await output.FlushAsync();
        }
        if (complete)
            await output.CompleteAsync();
        return hash.GetHashAndReset();
    }

    /// <summary>Hashes everything until end of stream.</summary>
    protected static Task<(long Length, byte[] Hash)> HashToEndAsync(PipeReader input) => NvmeMptls.TestKit.PipeHashing.HashToEndAsync(input);
}
