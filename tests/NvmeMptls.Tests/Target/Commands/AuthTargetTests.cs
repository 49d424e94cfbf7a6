using Microsoft.Extensions.Time.Testing;
using NvmeMptls.Crypto.Auth;
using NvmeMptls.Target.Auth;
using NvmeMptls.TestKit;
using NvmeMptls.Transport.Nvme;
using NvmeMptls.Transport.Nvme.Auth;

namespace NvmeMptls.Tests.Target.Commands;

/// <summary>
/// The target's DH-HMAC-CHAP (reference §5) driven by a raw host over an in-memory connection: ATR in Connect,
/// Authentication Required before authentication, each Failure1 reason, Failure2 from the host, and the timeout.
/// </summary>
public sealed class AuthTargetTests
{
    internal const string HostSecret = "DHHC-1:00:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh+KfiaR:";
    internal const string ControllerSecret = "DHHC-1:03:dZSVu1YU+UUKhORpWPqucZgHHQG1yo+Fy3MvmoYq0rkraDbrQSsxdRkXevDYzd13QnWgQM58D3YhBCl3GcAnfY7ra+w=:";
    internal const string OtherSecret = "DHHC-1:01:jWiK0NeSweQjGFEI9c4bjHV792NxG/KQG1mAfCQAiRlmCljm:";

    internal static async Task<(InMemoryTarget Target, RawNvmeHost Host, NvmeCompletion Connect)> ConnectAsync(
        DhChapHashId hash = DhChapHashId.Sha256, DhChapGroupId group = DhChapGroupId.Null, bool controllerSecret = true, TimeProvider? time = null)
    {
        var target = new InMemoryTarget(time: time);
        target.Registry.Authentication = new HostAuthentication(
        [
            new HostAuthenticationEntry(RawNvmeHost.HostNqn, null, new DhChapHostKeys(
                DhChapSecret.Parse(HostSecret), controllerSecret ? DhChapSecret.Parse(ControllerSecret) : null, [hash], [group])),
        ]);
        var host = target.Connect();
        await host.InitializeAsync();
        var connect = await host.ConnectAsync(InMemoryTarget.SubsystemNqn, 0, 31);
        return (target, host, connect);
    }

    internal static Task<NvmeCompletion> SendAsync(RawNvmeHost host, ReadOnlyMemory<byte> message) =>
        host.ExecuteAsync(new AuthCommand(true, (uint)message.Length).ToCommand() with { Flags = NvmeCommand.PsdtSgl }, message, null);

    internal static async Task<byte[]> ReceiveAsync(RawNvmeHost host)
    {
        var buffer = new byte[DhChapHostSession.ReceiveBufferSize];
        var command = new AuthCommand(false, (uint)buffer.Length).ToCommand() with
        {
            Flags = NvmeCommand.PsdtSgl,
            SglIdentifier = SglDescriptor.TransportIdentifier,
            SglLength = (uint)buffer.Length,
        };
        var cqe = await host.ExecuteAsync(command, default, buffer);
        Assert.That(cqe.Status.IsSuccess, Is.True, "AUTH_Receive: " + cqe.Status);
        return buffer;
    }

    /// <summary>Runs a whole transaction as a host would; null on success, else the Failure1 reason (or the host's own).</summary>
    internal static async Task<AuthFailureReason?> AuthenticateAsync(RawNvmeHost host, DhChapHostSession session)
    {
        var buffer = new byte[DhChapHostSession.ReceiveBufferSize];
        int length = session.WriteNegotiate(buffer);
        Assert.That((await SendAsync(host, buffer.AsMemory(0, length))).Status.IsSuccess, Is.True);
        length = session.TryReply(await ReceiveAsync(host), buffer, out var failure, out _);
        if (length < 0)
        {
            return failure;
        }
        Assert.That((await SendAsync(host, buffer.AsMemory(0, length))).Status.IsSuccess, Is.True);
        if (!session.CheckSuccess1(await ReceiveAsync(host), out failure, out bool controllerFailed))
        {
            if (!controllerFailed)
            {
                await SendAsync(host, buffer.AsMemory(0, session.WriteFailure2(buffer, failure)));
            }
            return failure;
        }
        if (session.Bidirectional)
        {
            await SendAsync(host, buffer.AsMemory(0, session.WriteSuccess2(buffer)));
        }
        return null;
    }

    internal static DhChapHostSession Session(string? controllerSecret = ControllerSecret, string hostSecret = HostSecret, ushort tid = 7) =>
        new(DhChapSecret.Parse(hostSecret), controllerSecret is null ? null : DhChapSecret.Parse(controllerSecret),
            RawNvmeHost.HostNqn, InMemoryTarget.SubsystemNqn, tid);

    internal static long Outcome(InMemoryTarget target, AuthenticationOutcome outcome) =>
        Interlocked.Read(ref target.Registry.Counters.AuthenticationsByOutcome[(int)outcome]);

    [Test]
    public async Task Connect_HostWithSecret_SetsAtr_AndAdminCommandsNeedAuthentication()
    {
        var (target, host, connect) = await ConnectAsync();
        await using var _ = target;
        await using var __ = host;
        Assert.That(new ConnectResponse(connect.Dw0).AuthenticationRequired, Is.True);
        Assert.That(connect.Dw0 & ConnectResponse.AuthenticationRequiredBit, Is.Not.Zero);

        var identify = await host.ExecuteAsync(host.Command(AdminOpcodes.Identify, cdw10: 1, length: 4096), default, new byte[4096]);
        Assert.That(identify.Status.Is(NvmeStatusCodes.AuthenticationRequired) && identify.Status.DoNotRetry, Is.True, identify.Status.ToString());
        var csts = await host.PropertyGetAsync(PropertyOffsets.Csts, false);
        Assert.That(csts.Status.IsSuccess, Is.True, "Property Get is a Fabrics command and runs before authentication");

        using var session = Session(controllerSecret: null);
        Assert.That(await AuthenticateAsync(host, session), Is.Null);
        await host.EnableAsync();
        identify = await host.ExecuteAsync(host.Command(AdminOpcodes.Identify, cdw10: 1, length: 4096), default, new byte[4096]);
        Assert.That(identify.Status.IsSuccess, Is.True, identify.Status.ToString());
    }

    [Test]
    public async Task Connect_HostWithoutSecret_HasNoAtr()
    {
        await using var target = new InMemoryTarget();
        await using var host = target.Connect();
        await host.InitializeAsync();
        var connect = await host.ConnectAsync(InMemoryTarget.SubsystemNqn, 0, 31);
        Assert.That(new ConnectResponse(connect.Dw0).AuthenticationRequired, Is.False);
        var send = await SendAsync(host, new byte[NegotiateMessage.Size]);
        Assert.That(send.Status.Is(NvmeStatusCodes.CommandSequenceError), Is.True, send.Status.ToString());
    }

    [TestCase(DhChapHashId.Sha256, DhChapGroupId.Null, false)]
    [TestCase(DhChapHashId.Sha384, DhChapGroupId.Ffdhe2048, true)]
    [TestCase(DhChapHashId.Sha512, DhChapGroupId.Ffdhe3072, true)]
    public async Task RawHost_Authenticates_AndIsCounted(DhChapHashId hash, DhChapGroupId group, bool bidirectional)
    {
        var (target, host, _) = await ConnectAsync(hash, group);
        await using var _t = target;
        await using var _h = host;
        using var session = Session(bidirectional ? ControllerSecret : null);
        Assert.That(await AuthenticateAsync(host, session), Is.Null);
        Assert.Multiple(() =>
        {
            Assert.That(session.Hash, Is.EqualTo(hash));
            Assert.That(session.Group, Is.EqualTo(group));
            Assert.That(Outcome(target, AuthenticationOutcome.Success), Is.EqualTo(1));
        });
    }

    [Test]
    public async Task WrongHostSecret_GetsFailure1Failed_AndStaysUnauthenticated()
    {
        // A clock that does not move: the queue is closed FailureLinger after the Failure1 (AuthTeardownTests).
        var (target, host, _) = await ConnectAsync(time: new FakeTimeProvider());
        await using var _t = target;
        await using var _h = host;
        using var session = Session(controllerSecret: null, hostSecret: OtherSecret);
        Assert.That(await AuthenticateAsync(host, session), Is.EqualTo(AuthFailureReason.Failed));
        Assert.That(Outcome(target, AuthenticationOutcome.Failed), Is.EqualTo(1));
        var io = await host.ExecuteAsync(host.Command(AdminOpcodes.Identify, cdw10: 1, length: 4096), default, new byte[4096]);
        Assert.That(io.Status.Is(NvmeStatusCodes.AuthenticationRequired), Is.True);
    }

    [Test]
    public async Task WrongControllerSecret_HostSendsFailure2_CountedAsHostRejected()
    {
        var (target, host, _) = await ConnectAsync(time: new FakeTimeProvider());
        await using var _t = target;
        await using var _h = host;
        using var session = Session(controllerSecret: OtherSecret);
        Assert.That(await AuthenticateAsync(host, session), Is.EqualTo(AuthFailureReason.Failed));
        await NvmeMptls.Tests.Initiator.InitiatorTestHelpers.Until(() => Outcome(target, AuthenticationOutcome.HostRejected) == 1, "Failure2 counted");
        var io = await host.ExecuteAsync(host.Command(AdminOpcodes.Identify, cdw10: 1, length: 4096), default, new byte[4096]);
        Assert.That(io.Status.Is(NvmeStatusCodes.AuthenticationRequired), Is.True);
    }

    [Test]
    public async Task BidirectionalWithoutControllerSecret_GetsFailure1Failed()
    {
        var (target, host, _) = await ConnectAsync(controllerSecret: false);
        await using var _t = target;
        await using var _h = host;
        using var session = Session();
        Assert.That(await AuthenticateAsync(host, session), Is.EqualTo(AuthFailureReason.Failed));
    }

    [Test]
    public async Task HashNotOffered_GetsFailure1HashUnusable()
    {
        var (target, host, _) = await ConnectAsync(DhChapHashId.Sha512);
        await using var _t = target;
        await using var _h = host;
        using var session = new DhChapHostSession(DhChapSecret.Parse(HostSecret), null, RawNvmeHost.HostNqn, InMemoryTarget.SubsystemNqn, 1,
            [DhChapHashId.Sha256]);
        Assert.That(await AuthenticateAsync(host, session), Is.EqualTo(AuthFailureReason.HashUnusable));
        Assert.That(Outcome(target, AuthenticationOutcome.HashUnusable), Is.EqualTo(1));
    }

    [Test]
    public async Task ReplyBeforeNegotiate_GetsFailure1IncorrectMessage()
    {
        var (target, host, _) = await ConnectAsync();
        await using var _t = target;
        await using var _h = host;
        var reply = new ReplyMessage(3, 0, new byte[32], false, ReadOnlyMemory<byte>.Empty, ReadOnlyMemory<byte>.Empty);
        var data = new byte[reply.Size];
        reply.Write(data);
        Assert.That((await SendAsync(host, data)).Status.IsSuccess, Is.True, "the failure travels in the next AUTH_Receive");
        Assert.That(FailureMessage.TryRead(await ReceiveAsync(host), out var failure), Is.True);
        Assert.Multiple(() =>
        {
            Assert.That(failure.Id, Is.EqualTo(AuthMessageId.Failure1));
            Assert.That(failure.Reason, Is.EqualTo(AuthFailureReason.IncorrectMessage));
            Assert.That(failure.TransactionId, Is.EqualTo(3));
        });
    }

    [Test]
    public async Task ReplyWithWrongTransactionId_GetsFailure1IncorrectPayload()
    {
        var (target, host, _) = await ConnectAsync();
        await using var _t = target;
        await using var _h = host;
        using var session = Session(controllerSecret: null, tid: 10);
        var buffer = new byte[DhChapHostSession.ReceiveBufferSize];
        await SendAsync(host, buffer.AsMemory(0, session.WriteNegotiate(buffer)));
        int length = session.TryReply(await ReceiveAsync(host), buffer, out _, out _);
        buffer[AuthMessageHeader.TransactionIdOffset] = 11;
        await SendAsync(host, buffer.AsMemory(0, length));
        Assert.That(FailureMessage.TryRead(await ReceiveAsync(host), out var failure), Is.True);
        Assert.That(failure.Reason, Is.EqualTo(AuthFailureReason.IncorrectPayload));
        Assert.That(failure.TransactionId, Is.EqualTo(10));
    }

    [Test]
    public async Task ReplyReplayedOnAnotherQueue_GetsFailure1Failed()
    {
        var (target, first, _) = await ConnectAsync();
        await using var _t = target;
        await using var _f = first;
        await using var second = target.Connect();
        await second.InitializeAsync();
        await second.ConnectAsync(InMemoryTarget.SubsystemNqn, 0, 31);

        // A valid Reply to the first queue's challenge, never sent there...
        using var session = Session(controllerSecret: null, tid: 5);
        var negotiate = new byte[NegotiateMessage.Size];
        session.WriteNegotiate(negotiate);
        await SendAsync(first, negotiate);
        var reply = new byte[DhChapHostSession.ReceiveBufferSize];
        int length = session.TryReply(await ReceiveAsync(first), reply, out _, out _);

        // ...replayed on the second queue, in a transaction with the same T_ID: its challenge differs, so R1 does not match.
        await SendAsync(second, negotiate);
        await ReceiveAsync(second);
        await SendAsync(second, reply.AsMemory(0, length));
        Assert.That(FailureMessage.TryRead(await ReceiveAsync(second), out var failure), Is.True);
        Assert.That(failure.Reason, Is.EqualTo(AuthFailureReason.Failed));
    }

    [Test]
    public async Task ReplyWithOversizedDhValue_GetsFailure1IncorrectPayload()
    {
        var (target, host, _) = await ConnectAsync(group: DhChapGroupId.Ffdhe2048);
        await using var _t = target;
        await using var _h = host;
        var negotiate = new byte[NegotiateMessage.Size];
        NegotiateMessage.OfferAll(9).Write(negotiate);
        await SendAsync(host, negotiate);
        Assert.That(ChallengeMessage.TryRead(await ReceiveAsync(host), out var challenge), Is.True);
        var reply = new ReplyMessage(9, 0, new byte[32], false, ReadOnlyMemory<byte>.Empty, new byte[challenge!.DhValue.Length + 1]);
        var data = new byte[reply.Size];
        reply.Write(data);
        await SendAsync(host, data);
        Assert.That(FailureMessage.TryRead(await ReceiveAsync(host), out var failure), Is.True);
        Assert.That(failure.Reason, Is.EqualTo(AuthFailureReason.IncorrectPayload));
    }

    [Test]
    public async Task BadSecp_IsInvalidField()
    {
        var (target, host, _) = await ConnectAsync();
        await using var _t = target;
        await using var _h = host;
        var command = new AuthCommand(true, NegotiateMessage.Size, SecurityProtocol: 0xEA).ToCommand() with { Flags = NvmeCommand.PsdtSgl };
        var cqe = await host.ExecuteAsync(command, new byte[NegotiateMessage.Size], null);
        Assert.That(cqe.Status.Is(NvmeStatusCodes.InvalidField) && cqe.Status.DoNotRetry, Is.True, cqe.Status.ToString());
    }

    [Test]
    public async Task StalledTransaction_ExpiresAfter120s_AndFreesItsState()
    {
        var clock = new FakeTimeProvider();
        var (target, host, _) = await ConnectAsync(time: clock);
        await using var _t = target;
        await using var _h = host;
        using var session = Session(controllerSecret: null);
        var buffer = new byte[NegotiateMessage.Size];
        await SendAsync(host, buffer.AsMemory(0, session.WriteNegotiate(buffer)));
        await ReceiveAsync(host);
        clock.Advance(TimeSpan.FromSeconds(119));
        Assert.That(Outcome(target, AuthenticationOutcome.Timeout), Is.Zero);
        clock.Advance(TimeSpan.FromSeconds(1));
        Assert.That(Outcome(target, AuthenticationOutcome.Timeout), Is.EqualTo(1));

        // The host can start over.
        using var again = Session(controllerSecret: null, tid: 8);
        Assert.That(await AuthenticateAsync(host, again), Is.Null);
    }

    [Test]
    public void AuthStep_Transitions_OnlyThoseTheProtocolHas()
    {
        Assert.Multiple(() =>
        {
            Assert.That(AuthTransaction.IsLegal(AuthStep.ExpectNegotiate, AuthStep.SendChallenge), Is.True);
            Assert.That(AuthTransaction.IsLegal(AuthStep.SendChallenge, AuthStep.ExpectReply), Is.True);
            Assert.That(AuthTransaction.IsLegal(AuthStep.ExpectReply, AuthStep.SendSuccess1), Is.True);
            Assert.That(AuthTransaction.IsLegal(AuthStep.ExpectNegotiate, AuthStep.ExpectReply), Is.False);
            Assert.That(AuthTransaction.IsLegal(AuthStep.ExpectNegotiate, AuthStep.SendSuccess1), Is.False);
            Assert.That(AuthTransaction.IsLegal(AuthStep.SendChallenge, AuthStep.ExpectSuccess2), Is.False);
        });
    }
}
