using System.Buffers;
using System.Net.Sockets;
using NvmeMptls.Transport.Multipath;
using NvmeMptls.Transport.Sockets;

namespace NvmeMptls.Tests.Connections;

/// <summary>
/// <see cref="SocketConnectionOptions.ReceivePoll"/>: with it on, a peer that answers within the poll time is read by
/// the polling receive loop (counted as a hit, no sleep in epoll), every byte intact and in order; with it off nothing
/// polls; a connection that polls still closes at once.
/// </summary>
public sealed class SocketReceivePollTests
{
    /// <summary>
    /// Ping-pong: the peer sends a byte, the connection echoes its complement; returns the connection's hits and misses.
    /// The peer runs blocking calls on a thread of its own: a polling receive loop may hold the socket engine's thread,
    /// and a peer in this process that needed that thread would only ever answer after the poll gave up.
    /// </summary>
    private static async Task<(long Hits, long Misses)> PingPongAsync(TimeSpan poll, int rounds)
    {
        var (client, accepted) = await LoopbackSocketPair.ConnectAsync();
        using var _ = client;
        await using var connection = new SocketConnection(accepted, MultipathPolicy.Disabled,
            options: SocketConnectionOptions.Default with { ReceivePoll = poll, InlineReaders = true });
        var echo = EchoAsync(connection);
        var peer = Task.Factory.StartNew(() =>
        {
            var one = new byte[1];
            for (var i = 0; i < rounds; i++)
            {
                var sent = (byte)(i * 31 + 7);
                one[0] = sent;
                client.Send(one);
                Assert.That(client.Receive(one), Is.EqualTo(1), $"round {i}");
                Assert.That(one[0], Is.EqualTo((byte)~sent), $"round {i}: the echo of the byte sent");
            }

            client.Shutdown(SocketShutdown.Send);
        }, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        await peer.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.That(await echo.WaitAsync(TimeSpan.FromSeconds(10)), Is.EqualTo(rounds), "every byte read once");
        return (connection.PollHits, connection.PollMisses);
    }

    private static async Task<int> EchoAsync(SocketConnection connection)
    {
        var count = 0;
        var answer = new byte[1];
        while (true)
        {
            var read = await connection.Input.ReadAsync();
            foreach (var b in read.Buffer.ToArray())
            {
                answer[0] = (byte)~b;
                count++;
                await connection.Output.WriteAsync(answer);
            }

            connection.Input.AdvanceTo(read.Buffer.End);
            if (read.IsCompleted)
            {
                return count;
            }
        }
    }

    [Test]
    public async Task PollOn_APeerThatAnswersWithinThePollTime_IsReadWhilePolling()
    {
        // 5 ms is far longer than a loopback round trip of this test's peer; a few rounds may still miss on a busy machine.
        var (hits, misses) = await PingPongAsync(TimeSpan.FromMilliseconds(5), 50);
        TestContext.Out.WriteLine($"hits {hits}, misses {misses}");
        Assert.That(hits, Is.GreaterThanOrEqualTo(25), "most answers arrive while the receive loop polls");
    }

    [Test]
    public async Task PollOff_NothingPolls()
    {
        var (hits, misses) = await PingPongAsync(TimeSpan.Zero, 10);
        Assert.That((hits, misses), Is.EqualTo((0L, 0L)));
    }

    [Test]
    public async Task PollOn_APeerThatStaysSilent_MissesAndWaits_ThenReadsItsLateBytes()
    {
        var (client, accepted) = await LoopbackSocketPair.ConnectAsync();
        using var _ = client;
        await using var connection = new SocketConnection(accepted, MultipathPolicy.Disabled,
            options: SocketConnectionOptions.Default with { ReceivePoll = TimeSpan.FromMilliseconds(1) });
        var read = connection.Input.ReadAsync();
        await Task.Delay(50); // longer than the poll: the loop gives up polling and waits in epoll
        Assert.That(connection.PollMisses, Is.GreaterThanOrEqualTo(1));
        await client.SendAsync(new byte[] { 42 }, SocketFlags.None);
        var result = await read.AsTask().WaitAsync(TimeSpan.FromSeconds(10));
        Assert.That(result.Buffer.ToArray(), Is.EqualTo(new byte[] { 42 }));
        connection.Input.AdvanceTo(result.Buffer.End);
    }

    [Test]
    public async Task PollOn_PeerCloses_TheInputEnds()
    {
        var (client, accepted) = await LoopbackSocketPair.ConnectAsync();
        await using var connection = new SocketConnection(accepted, MultipathPolicy.Disabled,
            options: SocketConnectionOptions.Default with { ReceivePoll = TimeSpan.FromMilliseconds(10) });
        client.Shutdown(SocketShutdown.Send);
        var result = await connection.Input.ReadAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(10));
        Assert.That(result.IsCompleted, Is.True, "the FIN makes the socket readable: the receive returns 0 and the input ends");
        client.Dispose();
    }

    [TestCase(-1)]
    [TestCase(10_001)]
    public void Options_ReceivePollOutOfRange_NamesTheKey(int microseconds)
        => Assert.That(() => new SocketConnectionOptions { ReceivePoll = TimeSpan.FromMicroseconds(microseconds) }.Validate(),
            Throws.ArgumentException.With.Message.Contains(nameof(SocketConnectionOptions.ReceivePoll)));
}
