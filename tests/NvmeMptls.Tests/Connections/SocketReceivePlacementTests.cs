using System.Buffers;
using System.IO.Pipelines;
using System.Net.Sockets;
using NvmeMptls.Transport.Connections;
using NvmeMptls.Transport.Multipath;
using NvmeMptls.Transport.Pdu;
using NvmeMptls.Transport.Sockets;

namespace NvmeMptls.Tests.Connections;

/// <summary>
/// Receive placement (<see cref="IReceivePlacement"/>): the rest of a large PDU's data is received straight into the
/// reader's buffer when the reader runs inline and the pipe holds nothing more; every byte arrives intact and in order,
/// digests are checked over placed bytes too, the PDUs after it are read from the pipe as before, and a peer that closes
/// or a reader that gives up in the middle of placed data gets a clear end. A real TCP peer sends the PDUs in chunks with
/// pauses, so the reader waits inside PDU data.
/// </summary>
public sealed class SocketReceivePlacementTests
{
    private const int DataLength = 128 * 1024;

    /// <summary>A burst that sends nothing; with <see cref="Fail"/> its end throws, as when the send side is gone.</summary>
    private sealed class QuietBurst : IReceiveBurst
    {
        public bool Fail { get; set; }

        public ValueTask OnBurstEndAsync(CancellationToken cancellationToken) =>
            Fail ? throw new IOException("the send side is gone") : default;

        public void OnBurstStart()
        {
        }
    }

    private static byte[] Pattern(int pdu)
    {
        var data = new byte[DataLength];
        new Random(1000 + pdu).NextBytes(data);
        return data;
    }

    /// <summary>The wire bytes of <paramref name="count"/> H2CData PDUs (header and data digests on), each with its PDU's pattern.</summary>
    private static async Task<byte[]> StreamAsync(int count)
    {
        using var stream = new MemoryStream();
        var writer = new PduWriter(PipeWriter.Create(stream), new PduSettings { HeaderDigest = true, DataDigest = true });
        for (var i = 0; i < count; i++)
        {
            writer.WriteH2CData(new H2CDataPdu((ushort)i, (ushort)i, 0, DataLength), Pattern(i), last: true);
        }

        await writer.FlushAsync();
        return stream.ToArray();
    }

    /// <summary>Sends <paramref name="bytes"/> in chunks of <paramref name="chunk"/> with a pause after each, on a thread of its own.</summary>
    private static Task SendInChunks(Socket client, byte[] bytes, int chunk, bool shutdown = true) =>
        Task.Factory.StartNew(() =>
        {
            for (var at = 0; at < bytes.Length; at += chunk)
            {
                client.Send(bytes, at, Math.Min(chunk, bytes.Length - at), SocketFlags.None);
                Thread.Sleep(3); // the reader drains each chunk and waits inside the PDU's data for the next
            }

            if (shutdown)
            {
                client.Shutdown(SocketShutdown.Send);
            }
        }, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);

    /// <summary>A peer socket and our connection over the other end (inline readers unless said otherwise).</summary>
    private static async Task<(Socket Client, SocketConnection Connection)> OpenAsync(bool inline = true, bool place = true)
    {
        var (client, accepted) = await LoopbackSocketPair.ConnectAsync();
        return (client, new SocketConnection(accepted, MultipathPolicy.Disabled,
            options: SocketConnectionOptions.Default with { InlineReaders = inline, PlaceReceives = place }));
    }

    private static PduReader ReaderOver(SocketConnection connection, QuietBurst? burst = null) =>
        new(new BurstEndReader(connection.Input, burst ?? new QuietBurst(), placement: connection), PduRole.Controller,
            new PduSettings { HeaderDigest = true, DataDigest = true });

    /// <summary>Reads <paramref name="count"/> H2CData PDUs; returns each one's digest verdict and checks its data.</summary>
    private static async Task<bool[]> ReadAllAsync(PduReader reader, int count, byte[]? corrupted = null)
    {
        var verdicts = new bool[count];
        var buffer = new byte[DataLength];
        for (var i = 0; i < count; i++)
        {
            Assert.That(await reader.ReadHeaderAsync(), Is.True, $"PDU {i} header");
            Assert.That(reader.Common.Type, Is.EqualTo(PduType.H2CData));
            Assert.That(H2CDataPdu.Read(reader.Header).CommandId, Is.EqualTo((ushort)i), "PDUs in order");
            Array.Clear(buffer);
            verdicts[i] = await reader.ReadDataAsync(buffer);
            Assert.That(buffer, Is.EqualTo(corrupted is not null && i == 1 ? corrupted : Pattern(i)), $"PDU {i}: every byte where it belongs");
        }

        Assert.That(await reader.ReadHeaderAsync(), Is.False, "the stream ends at a PDU boundary");
        return verdicts;
    }

    [TestCase(true, true)]
    [TestCase(false, true)]
    [TestCase(true, false)]
    public async Task LargeH2CData_InChunks_AllBytesInOrder_PlacedOnlyInlineAndWhenOn(bool inline, bool place)
    {
        const int count = 12;
        var bytes = await StreamAsync(count);
        var (client, connection) = await OpenAsync(inline, place);
        using var _ = client;
        await using var __ = connection;
        var reader = ReaderOver(connection);
        var read = ReadAllAsync(reader, count); // waiting before the first byte: it runs inline from then on
        var send = SendInChunks(client, bytes, 40_000);

        var verdicts = await read.WaitAsync(TimeSpan.FromSeconds(30));
        await send;

        TestContext.Out.WriteLine($"inline {inline}, place {place}: {connection.PlacedBytes} of {count * DataLength} data bytes placed");
        Assert.That(verdicts, Has.All.True, "every data digest matches, placed bytes included");
        Assert.That(reader.PlacedBytes, Is.EqualTo(connection.PlacedBytes), "the reader and the connection count the same bytes");
        if (inline && place)
        {
            Assert.That(connection.PlacedBytes, Is.GreaterThan(0L), "a reader waiting inside large data had it placed");
        }
        else
        {
            Assert.That(connection.PlacedBytes, Is.Zero, inline ? "placement off" : "a reader on the thread pool never places");
        }
    }

    [Test]
    public async Task CorruptedPlacedData_DigestFails_AndTheNextPduIsReadIntact()
    {
        const int count = 3;
        var bytes = await StreamAsync(count);
        // The second PDU's data starts after the first PDU (header 24 + digest 4, data, digest 4) and its own header.
        var secondData = 28 + DataLength + 4 + 28;
        bytes[secondData + DataLength - 100] ^= 0x5a;
        var corrupted = Pattern(1);
        corrupted[DataLength - 100] ^= 0x5a;
        var (client, connection) = await OpenAsync();
        using var _ = client;
        await using var __ = connection;
        var reader = ReaderOver(connection);
        var read = ReadAllAsync(reader, count, corrupted);

        // The first PDU and 20000 bytes of the second, then a pause until the reader has placed the second's rest: the
        // corrupted byte is received into the placement, and the rest of the stream follows it.
        await SendInChunks(client, bytes[..(secondData + 20_000)], 40_000, shutdown: false);
        await WaitUntilAsync(() => connection.PlacementPending);
        await SendInChunks(client, bytes[(secondData + 20_000)..], 40_000);

        var verdicts = await read.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.That(verdicts, Is.EqualTo(new[] { true, false, true }), "only the corrupted PDU fails its digest");
        Assert.That(connection.PlacedBytes, Is.GreaterThanOrEqualTo((long)(DataLength - 20_000)), "the corrupted PDU's rest was placed");
    }

    [Test]
    public async Task BurstEndFailsAtAPlacement_ReaderFailsOnlyOnceThePlacedBytesAreIn()
    {
        var bytes = await StreamAsync(1);
        var (client, connection) = await OpenAsync();
        using var _ = client;
        await using var __ = connection;
        var burst = new QuietBurst();
        var reader = ReaderOver(connection, burst);
        var read = ReadOneAsync(reader, new byte[DataLength]);
        burst.Fail = true;
        await SendInChunks(client, bytes[..(28 + 20_000)], 28 + 20_000, shutdown: false);
        await WaitUntilAsync(() => connection.PlacementPending);

        await Task.Delay(100);
        Assert.That(read.IsCompleted, Is.False, "the buffer may still be written: the reader does not give it up yet");
        await SendInChunks(client, bytes[(28 + 20_000)..], 40_000, shutdown: false);
        Assert.That(async () => await read.WaitAsync(TimeSpan.FromSeconds(10)), Throws.InstanceOf<IOException>());
        Assert.That(connection.PlacementPending, Is.False, "the placement was over when the reader failed");
    }

    [Test]
    public async Task PeerClosesInsidePlacedData_ReaderGetsEndOfStream()
    {
        var bytes = await StreamAsync(1);
        var (client, connection) = await OpenAsync();
        using var _ = client;
        await using var __ = connection;
        var reader = ReaderOver(connection);

        // The reader waits first, so it runs inline when the header and the first 20000 data bytes come; it then places
        // the rest, and the peer closes.
        var read = ReadOneAsync(reader, new byte[DataLength]);
        await SendInChunks(client, bytes[..(28 + 20_000)], 28 + 20_000, shutdown: false);
        await WaitUntilAsync(() => connection.PlacementPending);
        client.Shutdown(SocketShutdown.Send);

        Assert.That(async () => await read.WaitAsync(TimeSpan.FromSeconds(10)), Throws.InstanceOf<EndOfStreamException>());
        Assert.That(connection.PlacedBytes, Is.Zero, "the placement did not complete");
    }

    private static async Task<bool> ReadOneAsync(PduReader reader, byte[] buffer, CancellationToken cancellationToken = default)
    {
        Assert.That(await reader.ReadHeaderAsync(cancellationToken), Is.True);
        return await reader.ReadDataAsync(buffer, cancellationToken);
    }

    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        for (var i = 0; i < 500 && !condition(); i++)
        {
            await Task.Delay(10);
        }

        Assert.That(condition(), Is.True, "the reader placed the rest of the data");
    }

    [Test]
    public async Task ReaderCancelsInsidePlacedData_EndsPromptly_AndTheConnectionCloses()
    {
        var bytes = await StreamAsync(1);
        var (client, connection) = await OpenAsync();
        using var _ = client;
        var reader = ReaderOver(connection);
        using var cancel = new CancellationTokenSource();
        var read = ReadOneAsync(reader, new byte[DataLength], cancel.Token);
        await SendInChunks(client, bytes[..(28 + 20_000)], 28 + 20_000, shutdown: false); // the header and some data, then silence
        await WaitUntilAsync(() => connection.PlacementPending);

        await cancel.CancelAsync();
        Assert.That(async () => await read.WaitAsync(TimeSpan.FromSeconds(5)), Throws.InstanceOf<OperationCanceledException>());
        Assert.That(connection.PlacementPending, Is.False, "the receive into the reader's buffer has stopped");
        await connection.DisposeAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(10));
    }

    private sealed class RecordingPlacement : IReceivePlacement
    {
        public TaskCompletionSource Received { get; } = new();
        public List<string>? Events { get; init; }

        public bool TryPlace(Memory<byte> destination, CancellationToken cancellationToken, out ValueTask placed)
        {
            Events!.Add("place");
            placed = new ValueTask(Received.Task);
            return true;
        }
    }

    private sealed class RecordingBurst(List<string> events) : IReceiveBurst
    {
        public ValueTask OnBurstEndAsync(CancellationToken cancellationToken)
        {
            events.Add("end");
            return default;
        }

        public void OnBurstStart() => events.Add("start");
    }

    [Test]
    public async Task BurstEndReader_EndsTheBurstAroundAPlacement()
    {
        var events = new List<string>();
        var placement = new RecordingPlacement { Events = events };
        var reader = new BurstEndReader(new Pipe().Reader, new RecordingBurst(events), placement: placement);

        Assert.That(reader.TryPlace(new byte[10], CancellationToken.None, out var placed), Is.True);
        Assert.That(events, Is.EqualTo(new[] { "place", "end" }), "the burst's answers go out before the wait for placed bytes");
        Assert.That(placed.IsCompleted, Is.False);
        placement.Received.SetResult();
        await placed;
        Assert.That(events, Is.EqualTo(new[] { "place", "end", "start" }), "a new burst starts when the placed bytes are in");

        var without = new BurstEndReader(new Pipe().Reader, new RecordingBurst(events));
        Assert.That(without.TryPlace(new byte[10], CancellationToken.None, out _), Is.False, "no placement given: none offered");
    }
}
