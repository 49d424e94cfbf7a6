using NvmeMptls.Target.Server;
using NvmeMptls.TestKit;
using NvmeMptls.Transport.Pdu;

namespace NvmeMptls.Tests.Target.Tcp;

/// <summary>Each way a connection ends is recorded once, as its first cause, on the queue and in the target's counters.</summary>
public sealed class ConnectionEndReasonTests
{
    [Test]
    public async Task HostSendsH2CTermReq_EndsWithTermReqReceived()
    {
        await using var target = new InMemoryTarget();
        var host = target.Connect();
        await host.InitializeAsync();
        var term = new byte[H2CTermReqPdu.HeaderLength];
        new H2CTermReqPdu(TermReqFes.InvalidHeaderField, 0).Write(term, default);
        await host.SendRawAsync(term);

        await AssertEndedAsync(target, ConnectionEndReason.TermReqReceived);
        Assert.That(target.Registry.Counters.TermReqsReceived, Is.EqualTo(1));
    }

    [Test]
    public async Task HostClosesConnection_EndsWithHostDisconnected()
    {
        await using var target = new InMemoryTarget();
        var host = target.Connect();
        await host.BringUpAdminAsync(InMemoryTarget.SubsystemNqn);
        await host.DisposeAsync();

        await AssertEndedAsync(target, ConnectionEndReason.HostDisconnected);
    }

    [Test]
    public async Task CapsuleBeforeICReq_EndsWithTermReqSent()
    {
        await using var target = new InMemoryTarget();
        var host = target.Connect();
        await host.SendRawAsync(RawNvmeHost.Header(PduType.CapsuleCmd, 0, 72, 0, 72, 72));
        Assert.That(await host.ReadTermReqAsync().WaitAsync(TimeSpan.FromSeconds(10)), Is.Not.Null);

        await AssertEndedAsync(target, ConnectionEndReason.TermReqSent);
        Assert.That(target.Registry.Counters.TermReqsSent, Is.EqualTo(1));
    }

    [Test]
    public async Task QueueAborted_KeepsTheFirstReason()
    {
        await using var target = new InMemoryTarget();
        var host = target.Connect();
        await host.InitializeAsync();
        var queue = target.QueueOf(0);
        await queue.AbortAsync(ConnectionEndReason.TlsKeyLimit, "rekey");
        await queue.AbortAsync(ConnectionEndReason.ServerStopping, "later");

        await AssertEndedAsync(target, ConnectionEndReason.TlsKeyLimit);
    }

    /// <summary>The queue ended with <paramref name="reason"/>, counted once, and no other reason was counted.</summary>
    private static async Task AssertEndedAsync(InMemoryTarget target, ConnectionEndReason reason)
    {
        await target.RunOf(0).WaitAsync(TimeSpan.FromSeconds(10));
        var ended = target.Registry.Counters.ConnectionsEndedByReason;
        Assert.Multiple(() =>
        {
            Assert.That(target.QueueOf(0).EndReason, Is.EqualTo(reason));
            Assert.That(ended[(int)reason], Is.EqualTo(1), $"{reason} counted once");
            Assert.That(ended.Sum(), Is.EqualTo(1), "no other reason counted");
            Assert.That(target.Registry.Counters.ConnectionsClosed, Is.EqualTo(1));
        });
    }
}
