using System.Net;
using System.Net.Sockets;
using NvmeMptls.Initiator.Nbd;

namespace NvmeMptls.Tests.Initiator;

/// <summary>The NBD server's buffered transmission reads over a real loopback socket.</summary>
public sealed class NbdInputBufferTests
{
    [Test]
    public async Task ManySmallMessagesInOneSend_EachReadGetsExactlyItsBytes()
    {
        var (client, server) = await PairAsync();
        using var _ = client;
        await using var stream = new NetworkStream(server, ownsSocket: true);
        var input = new NbdInputBuffer(stream, size: 256);
        byte[] sent = Enumerable.Range(0, 28 * 20).Select(i => (byte)i).ToArray();
        await client.SendAsync(sent);
        for (int i = 0; i < 20; i++)
        {
            byte[] header = new byte[28];
            await input.ReadExactlyAsync(header, CancellationToken.None);
            Assert.That(header, Is.EqualTo(sent.AsSpan(i * 28, 28).ToArray()), $"message {i}");
        }
    }

    [Test]
    public async Task PayloadLargerThanTheBuffer_ArrivesWholeAfterBufferedBytes()
    {
        var (client, server) = await PairAsync();
        using var _ = client;
        await using var stream = new NetworkStream(server, ownsSocket: true);
        var input = new NbdInputBuffer(stream, size: 256);
        byte[] header = Enumerable.Range(1, 28).Select(i => (byte)i).ToArray();
        byte[] payload = new byte[100_000];
        new Random(5).NextBytes(payload);
        byte[] next = [9, 8, 7, 6];
        var send = Task.Run(async () =>
        {
            await client.SendAsync(header.Concat(payload.Take(100)).ToArray());
            await Task.Delay(20);
            await client.SendAsync(payload.Skip(100).Concat(next).ToArray());
        });
        byte[] gotHeader = new byte[28];
        byte[] gotPayload = new byte[payload.Length];
        byte[] gotNext = new byte[4];
        await input.ReadExactlyAsync(gotHeader, CancellationToken.None);
        await input.ReadExactlyAsync(gotPayload, CancellationToken.None);
        await input.ReadExactlyAsync(gotNext, CancellationToken.None);
        await send;
        Assert.Multiple(() =>
        {
            Assert.That(gotHeader, Is.EqualTo(header));
            Assert.That(gotPayload, Is.EqualTo(payload));
            Assert.That(gotNext, Is.EqualTo(next));
        });
    }

    [Test]
    public async Task PeerClosesMidMessage_EndOfStream()
    {
        var (client, server) = await PairAsync();
        await using var stream = new NetworkStream(server, ownsSocket: true);
        var input = new NbdInputBuffer(stream, size: 256);
        await client.SendAsync(new byte[10]);
        client.Shutdown(SocketShutdown.Send);
        client.Dispose();
        Assert.ThrowsAsync<EndOfStreamException>(async () => await input.ReadExactlyAsync(new byte[28], CancellationToken.None));
    }

    private static async Task<(Socket Client, Socket Server)> PairAsync()
    {
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen(1);
        var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await client.ConnectAsync(listener.LocalEndPoint!);
        var server = await listener.AcceptAsync();
        return (client, server);
    }
}
