using Microsoft.Extensions.Time.Testing;
using NvmeMptls.Crypto.Auth;
using NvmeMptls.Target.Auth;
using NvmeMptls.Target.Server;
using NvmeMptls.TestKit;
using NvmeMptls.Transport.Nvme;
using NvmeMptls.Transport.Nvme.Auth;
using static NvmeMptls.Tests.Target.Commands.AuthTargetTests;

namespace NvmeMptls.Tests.Target.Commands;

/// <summary>
/// The target's DH-HMAC-CHAP after the first transaction (issue 13): re-authentication on an authenticated queue, the
/// queue torn down after a failure (Failure1 sent, or the host's Failure2 acknowledged, then closed; a Failure1 the
/// host never fetches closes the queue when the transaction expires), and hostile hosts that leave the rest of the
/// target working. Raw host over in-memory connections, with a fake clock where time matters.
/// </summary>
public sealed class AuthLifecycleTests
{
    [Test]
    public async Task Reauthentication_OnAnAuthenticatedQueue_SucceedsWhileCommandsKeepRunning()
    {
        var (target, host, _) = await ConnectAsync(group: DhChapGroupId.Ffdhe2048);
        await using var _t = target;
        await using var _h = host;
        using (var first = Session(tid: 1))
        {
            Assert.That(await AuthenticateAsync(host, first), Is.Null);
        }
        await host.EnableAsync();

        // NVMe Base 2.0 §8.13.1: the host may re-authenticate at any time with a new Negotiate on the queue.
        using var again = Session(tid: 2);
        var buffer = new byte[DhChapHostSession.ReceiveBufferSize];
        Assert.That((await SendAsync(host, buffer.AsMemory(0, again.WriteNegotiate(buffer)))).Status.IsSuccess, Is.True);
        var during = await host.ExecuteAsync(host.Command(AdminOpcodes.Identify, cdw10: 1, length: 4096), default, new byte[4096]);
        Assert.That(during.Status.IsSuccess, Is.True, "an authenticated queue keeps working while it re-authenticates: " + during.Status);
        int length = again.TryReply(await ReceiveAsync(host), buffer, out _, out _);
        Assert.That(length, Is.GreaterThan(0));
        Assert.That((await SendAsync(host, buffer.AsMemory(0, length))).Status.IsSuccess, Is.True);
        Assert.That(again.CheckSuccess1(await ReceiveAsync(host), out _, out _), Is.True, "the controller proves itself again");
        Assert.That((await SendAsync(host, buffer.AsMemory(0, again.WriteSuccess2(buffer)))).Status.IsSuccess, Is.True);

        var after = await host.ExecuteAsync(host.Command(AdminOpcodes.Identify, cdw10: 1, length: 4096), default, new byte[4096]);
        Assert.Multiple(() =>
        {
            Assert.That(after.Status.IsSuccess, Is.True, after.Status.ToString());
            Assert.That(Outcome(target, AuthenticationOutcome.Success), Is.EqualTo(2));
        });
    }

    [Test]
    public async Task Reauthentication_WithAWrongSecret_GetsFailure1_ThenTheQueueAndItsControllerClose()
    {
        var clock = new FakeTimeProvider();
        var (target, host, _) = await ConnectAsync(time: clock);
        await using var _t = target;
        await using var _h = host;
        using (var first = Session(controllerSecret: null, tid: 1))
        {
            Assert.That(await AuthenticateAsync(host, first), Is.Null);
        }
        await host.EnableAsync();
        using var wrong = Session(controllerSecret: null, hostSecret: OtherSecret, tid: 2);
        Assert.That(await AuthenticateAsync(host, wrong), Is.EqualTo(AuthFailureReason.Failed));

        var identify = await host.ExecuteAsync(host.Command(AdminOpcodes.Identify, cdw10: 1, length: 4096), default, new byte[4096]);
        Assert.That(identify.Status.Is(NvmeStatusCodes.AuthenticationRequired), Is.True, "a failed re-authentication revokes the queue");
        await AssertClosedAfterLingerAsync(target, clock, 0);
        await NvmeMptls.Tests.Initiator.InitiatorTestHelpers.Until(() => !target.Subsystem.Controllers.Any(), "controller closed");
        Assert.That(target.Subsystem.Controllers, Is.Empty,
            "the admin queue closed, so did its controller (Linux: nvmet_ctrl_fatal_error)");
        await AssertTargetStillServesAsync(target);
    }

    [Test]
    public async Task WrongHostSecret_Failure1IsRead_ThenTheQueueIsClosed_AndTheTargetStillServes()
    {
        var clock = new FakeTimeProvider();
        var (target, host, _) = await ConnectAsync(time: clock);
        await using var _t = target;
        await using var _h = host;
        using var session = Session(controllerSecret: null, hostSecret: OtherSecret);
        Assert.That(await AuthenticateAsync(host, session), Is.EqualTo(AuthFailureReason.Failed));
        await AssertClosedAfterLingerAsync(target, clock, 0);
        await AssertTargetStillServesAsync(target);
    }

    [Test]
    public async Task HostSendsFailure2_TheAuthSendIsAnswered_ThenTheQueueIsClosed()
    {
        var clock = new FakeTimeProvider();
        var (target, host, _) = await ConnectAsync(time: clock);
        await using var _t = target;
        await using var _h = host;
        using var session = Session(controllerSecret: OtherSecret);
        Assert.That(await AuthenticateAsync(host, session), Is.EqualTo(AuthFailureReason.Failed));
        await NvmeMptls.Tests.Initiator.InitiatorTestHelpers.Until(() => Outcome(target, AuthenticationOutcome.HostRejected) == 1, "Failure2 counted");
        await AssertClosedAfterLingerAsync(target, clock, 0);
    }

    [Test]
    public async Task Failure1NeverFetched_TheQueueClosesWhenTheTransactionExpires()
    {
        var clock = new FakeTimeProvider();
        var (target, host, _) = await ConnectAsync(time: clock);
        await using var _t = target;
        await using var _h = host;
        using var session = Session(controllerSecret: null, tid: 4);
        var buffer = new byte[DhChapHostSession.ReceiveBufferSize];
        await SendAsync(host, buffer.AsMemory(0, session.WriteNegotiate(buffer)));
        int length = session.TryReply(await ReceiveAsync(host), buffer, out _, out _);
        buffer[AuthMessageHeader.TransactionIdOffset] = 5;
        Assert.That((await SendAsync(host, buffer.AsMemory(0, length))).Status.IsSuccess, Is.True, "the failure waits for an AUTH_Receive");

        // The host never asks for its Failure1: the transaction expires (120 s without KATO) and the queue closes.
        clock.Advance(TimeSpan.FromSeconds(119));
        Assert.That(target.RunOf(0).IsCompleted, Is.False);
        clock.Advance(TimeSpan.FromSeconds(1));
        await target.RunOf(0).WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Multiple(() =>
        {
            Assert.That(target.QueueOf(0).EndReason, Is.EqualTo(ConnectionEndReason.AuthenticationFailed));
            Assert.That(Outcome(target, AuthenticationOutcome.Timeout), Is.EqualTo(1));
        });
    }

    [Test]
    public async Task Success2WithoutBidirectionalAuthentication_GetsFailure1IncorrectMessage_AndTheTargetStillServes()
    {
        var clock = new FakeTimeProvider();
        var (target, host, _) = await ConnectAsync(time: clock);
        await using var _t = target;
        await using var _h = host;
        using var session = Session(controllerSecret: null, tid: 6);
        var buffer = new byte[DhChapHostSession.ReceiveBufferSize];
        await SendAsync(host, buffer.AsMemory(0, session.WriteNegotiate(buffer)));
        await ReceiveAsync(host);
        // Success2 where the controller waits for the Reply (NVMe Base 2.0 §8.13.5 message order).
        await SendAsync(host, buffer.AsMemory(0, session.WriteSuccess2(buffer)));
        Assert.That(FailureMessage.TryRead(await ReceiveAsync(host), out var failure), Is.True);
        Assert.Multiple(() =>
        {
            Assert.That(failure.Reason, Is.EqualTo(AuthFailureReason.IncorrectMessage));
            Assert.That(failure.TransactionId, Is.EqualTo(6));
        });
        await AssertClosedAfterLingerAsync(target, clock, 0);
        await AssertTargetStillServesAsync(target);
    }

    [Test]
    public async Task IoQueue_CommandsBeforeAuthentication_AreAuthenticationRequired_ThenRunOnceAuthenticated()
    {
        var (target, admin, _) = await ConnectAsync();
        await using var _t = target;
        await using var _a = admin;
        using (var session = Session(controllerSecret: null, tid: 1))
        {
            Assert.That(await AuthenticateAsync(admin, session), Is.Null);
        }
        await admin.EnableAsync();

        await using var io = target.Connect();
        await io.InitializeAsync();
        var connect = await io.ConnectAsync(InMemoryTarget.SubsystemNqn, 1, 31, admin.ControllerId);
        Assert.That(new ConnectResponse(connect.Dw0).AuthenticationRequired, Is.True, "every queue authenticates");
        var before = await io.ReadAsync(1, 0, 512);
        var beforeWrite = await io.WriteAsync(1, 0, new byte[512]);
        Assert.Multiple(() =>
        {
            Assert.That(before.Status.Is(NvmeStatusCodes.AuthenticationRequired) && before.Status.DoNotRetry, Is.True, before.Status.ToString());
            Assert.That(beforeWrite.Status.Is(NvmeStatusCodes.AuthenticationRequired), Is.True, beforeWrite.Status.ToString());
        });
        using (var session = Session(controllerSecret: null, tid: 2))
        {
            Assert.That(await AuthenticateAsync(io, session), Is.Null);
        }
        var after = await io.ReadAsync(1, 0, 512);
        Assert.That(after.Status.IsSuccess, Is.True, after.Status.ToString());
    }

    /// <summary>The failed queue is still open until <see cref="AuthTransaction.FailureLinger"/> has passed, then closed.</summary>
    private static async Task AssertClosedAfterLingerAsync(InMemoryTarget target, FakeTimeProvider clock, int queue)
    {
        await Task.Delay(50);
        Assert.That(target.RunOf(queue).IsCompleted, Is.False, "the host gets time to read the verdict");
        clock.Advance(AuthTransaction.FailureLinger);
        await target.RunOf(queue).WaitAsync(TimeSpan.FromSeconds(10));
        Assert.That(target.QueueOf(queue).EndReason, Is.EqualTo(ConnectionEndReason.AuthenticationFailed));
        Assert.That(Interlocked.Read(ref target.Registry.Counters.ConnectionsEndedByReason[(int)ConnectionEndReason.AuthenticationFailed]), Is.EqualTo(1));
    }

    /// <summary>Another host connection authenticates and runs commands: the failure stayed on its own queue.</summary>
    private static async Task AssertTargetStillServesAsync(InMemoryTarget target)
    {
        await using var other = target.Connect();
        await other.InitializeAsync();
        var connect = await other.ConnectAsync(InMemoryTarget.SubsystemNqn, 0, 31);
        Assert.That(connect.Status.IsSuccess, Is.True, connect.Status.ToString());
        using var session = Session(controllerSecret: null, tid: 99);
        Assert.That(await AuthenticateAsync(other, session), Is.Null);
        await other.EnableAsync();
        var identify = await other.ExecuteAsync(other.Command(AdminOpcodes.Identify, cdw10: 1, length: 4096), default, new byte[4096]);
        Assert.That(identify.Status.IsSuccess, Is.True, identify.Status.ToString());
    }
}
