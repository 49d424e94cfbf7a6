using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using NvmeMptls.Transport.Multipath;
using NvmeMptls.Transport.Sockets;

namespace NvmeMptls.Tests.Connections;

/// <summary>
/// How <see cref="SocketConnection"/> sizes its receives (<see cref="SocketConnectionOptions.BurstReceiveSize"/>): after
/// a receive that filled its buffer the next asks for a burst-sized one, so a burst already waiting in the kernel comes
/// in a few large receives, not one per 16 KiB segment; a connection whose receives come back short keeps filling the
/// one small segment (the drip-fed peer's bound, Limits/DripFedMemoryTests).
/// </summary>
public sealed class SocketReceiveSizeTests
{
    [Test]
    public async Task BurstWaitingInTheKernel_ArrivesInFewLargeSegments_BytesIntact()
    {
        const int Size = 512 * 1024;
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.ReceiveBufferSize = 4 << 20;
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen(1);
        using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { SendBufferSize = 4 << 20 };
        await client.ConnectAsync(listener.LocalEndPoint!);
        var accepted = await listener.AcceptAsync();

        var data = new byte[Size];
        for (var i = 0; i < data.Length; i++)
        {
            data[i] = (byte)(i * 7 + (i >> 12));
        }

        for (var sent = 0; sent < data.Length;)
        {
            sent += await client.SendAsync(data.AsMemory(sent), SocketFlags.None);
        }

        // The whole burst waits in the kernel before the connection's receive loop starts.
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (accepted.Available < Size && DateTime.UtcNow < deadline)
        {
            await Task.Delay(10);
        }

        Assert.That(accepted.Available, Is.EqualTo(Size), "the burst is queued on the receiving socket");
        var options = SocketConnectionOptions.Default;
        await using var connection = new SocketConnection(accepted, MultipathPolicy.Disabled, options: options);
        ReadResult result;
        while (true)
        {
            result = await connection.Input.ReadAsync();
            if (result.Buffer.Length >= Size || result.IsCompleted)
            {
                break;
            }

            connection.Input.AdvanceTo(result.Buffer.Start, result.Buffer.End);
        }

        var segments = 0;
        foreach (var _ in result.Buffer)
        {
            segments++;
        }

        Assert.That(result.Buffer.ToArray(), Is.EqualTo(data));
        TestContext.Out.WriteLine($"{Size} bytes in {segments} segments");

        // One receive per 16 KiB segment would make 32; the first (small) receive, then 128 KiB ones, make about 5.
        Assert.That(segments, Is.LessThanOrEqualTo(2 + (Size / options.BurstReceiveSize)));
        connection.Input.AdvanceTo(result.Buffer.End);
    }

    [TestCase(100, 512)]
    [TestCase(2 << 20, 512)]
    public void Options_BurstReceiveSizeOutOfRange_NamesTheKey(int burst, int min)
        => Assert.That(() => new SocketConnectionOptions { BurstReceiveSize = burst, MinReceiveSize = min }.Validate(),
            Throws.ArgumentException.With.Message.Contains(nameof(SocketConnectionOptions.BurstReceiveSize)));
}
