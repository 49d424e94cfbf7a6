using Microsoft.Extensions.Time.Testing;
using NvmeMptls.Target.Server;
using NvmeMptls.Target.Subsystems;
using NvmeMptls.TestKit;
using NvmeMptls.Transport.Nvme;
using NvmeMptls.Transport.Pdu;

namespace NvmeMptls.Tests.Target.Tcp;

/// <summary>
/// Every setup phase ends by a deadline from its start (issue 12), on a fake clock: no ICReq, no Connect after ICResp,
/// and an admin Connect with KATO but no CC.EN. A peer trickling a byte a second is cut at the same deadline.
/// </summary>
public sealed class SetupDeadlineTests
{
    private static readonly TimeSpan Second = TimeSpan.FromSeconds(1);

    [Test]
    public async Task IcReqDrippedOneBytePerSecond_CutAtTheIcReqDeadline()
    {
        var clock = new FakeTimeProvider();
        await using var target = new InMemoryTarget(time: clock);
        var host = target.Connect();
        var icreq = new byte[IcReqPdu.HeaderLength];
        new IcReqPdu(0, 0, false, false, 0).Write(icreq);

        // Four seconds of one byte a second: still within the default 5 s, and the progress does not extend it.
        for (var i = 0; i < 4; i++)
        {
            await host.SendRawAsync(icreq.AsMemory(i, 1));
            clock.Advance(Second);
        }

        Assert.That(target.RunOf(0).IsCompleted, Is.False, "cut before the deadline");
        await host.SendRawAsync(icreq.AsMemory(4, 1));
        clock.Advance(Second);

        await AssertEndedAsync(target, ConnectionEndReason.SetupTimeout);
        Assert.That(target.Registry.Counters.SetupTimeouts[(int)SetupPhase.IcReq], Is.EqualTo(1));
    }

    [Test]
    public async Task IcReqThenNoConnect_CutAtTheConnectDeadline()
    {
        var clock = new FakeTimeProvider();
        await using var target = new InMemoryTarget(new TargetLimits { ConnectTimeout = TimeSpan.FromSeconds(10) }, time: clock);
        var host = target.Connect();
        await host.InitializeAsync();
        Assert.That(target.QueueOf(0).CurrentSetupPhase, Is.EqualTo(SetupPhase.Connect));

        clock.Advance(TimeSpan.FromSeconds(9.5));
        Assert.That(target.RunOf(0).IsCompleted, Is.False, "cut before the deadline");
        clock.Advance(Second);

        await AssertEndedAsync(target, ConnectionEndReason.SetupTimeout);
        Assert.That(target.Registry.Counters.SetupTimeouts[(int)SetupPhase.Connect], Is.EqualTo(1));
    }

    [Test]
    public async Task Connected_NoSetupDeadlineLeft()
    {
        var clock = new FakeTimeProvider();
        await using var target = new InMemoryTarget(time: clock);
        var host = target.Connect();
        await host.BringUpAdminAsync(InMemoryTarget.SubsystemNqn);

        Assert.That(target.QueueOf(0).CurrentSetupPhase, Is.Null);
        clock.Advance(TimeSpan.FromMinutes(5));
        Assert.That(target.RunOf(0).IsCompleted, Is.False, "a connected queue without KATO stays");
        Assert.That(target.Registry.Counters.SetupTimeouts.Sum(), Is.Zero);
    }

    [Test]
    public async Task AdminConnectWithKato5sAndNoEnable_TornDownByKeepAlive()
    {
        var clock = new FakeTimeProvider();
        await using var target = new InMemoryTarget(time: clock);
        var host = target.Connect();
        await host.InitializeAsync();
        var connect = await host.ConnectAsync(InMemoryTarget.SubsystemNqn, 0, 31, katoMs: 5000);
        Assert.That(connect.Status.IsSuccess, Is.True, connect.Status.ToString());

        // Silence: no Property Set CC.EN, no Keep Alive. KATO 5 s, checked every 2.5 s.
        await AdvanceWhileRunningAsync(clock, target, seconds: 8);
        await AssertEndedAsync(target, ConnectionEndReason.KeepAliveExpired);
        Assert.That(target.Registry.Counters.KeepAliveExpiries, Is.EqualTo(1));
    }

    [Test]
    public async Task IdleDiscoveryConnection_KatoZero_TornDownAtTheDiscoveryDefault()
    {
        var clock = new FakeTimeProvider();
        await using var target = new InMemoryTarget(new TargetLimits { DiscoveryDefaultKeepAlive = TimeSpan.FromSeconds(10) }, time: clock);
        var host = target.Connect();
        await host.InitializeAsync();
        var connect = await host.ConnectAsync(WellKnownNqns.Discovery, 0, 31, katoMs: 0);
        Assert.That(connect.Status.IsSuccess, Is.True, connect.Status.ToString());

        // Connected and then idle: no CC.EN, no Get Log Page, no Keep Alive.
        await AdvanceWhileRunningAsync(clock, target, seconds: 20);
        await AssertEndedAsync(target, ConnectionEndReason.KeepAliveExpired);
    }

    /// <summary>Moves the clock a second at a time, letting the timer callbacks run, until the queue ends.</summary>
    private static async Task AdvanceWhileRunningAsync(FakeTimeProvider clock, InMemoryTarget target, int seconds)
    {
        for (var i = 0; i < seconds && !target.RunOf(0).IsCompleted; i++)
        {
            clock.Advance(Second);
            await Task.Delay(10);
        }
    }

    private static async Task AssertEndedAsync(InMemoryTarget target, ConnectionEndReason reason)
    {
        await target.RunOf(0).WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Multiple(() =>
        {
            Assert.That(target.QueueOf(0).EndReason, Is.EqualTo(reason));
            Assert.That(target.Registry.Counters.ConnectionsEndedByReason[(int)reason], Is.EqualTo(1));
        });
    }
}
