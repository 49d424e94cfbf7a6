using NvmeMptls.Crypto.Auth;
using NvmeMptls.Target.Auth;
using NvmeMptls.Target.Subsystems;
using NvmeMptls.TestKit;
using NvmeMptls.Transport.Nvme;
using NvmeMptls.Transport.Nvme.Auth;

namespace NvmeMptls.Tests.Target.Commands;

/// <summary>
/// Secure channel concatenation on the target (TP 8018; reference §5; kernel nvmet_auth_negotiate/nvmet_auth_reply):
/// NEWTLSPSK on a plain admin queue stores the same TLS PSK the host derives, ASCR for hosts configured to concatenate,
/// and every SC_C misuse answered with Failure1 "concat mismatch" (or "DH group unusable" when no group is shared).
/// </summary>
public sealed class SecureConcatTargetTests
{
    private static InMemoryTarget Target(bool secureConcat = false, PortTlsMode port = PortTlsMode.Optional,
        IReadOnlyList<DhChapGroupId>? groups = null, IReadOnlyList<DhChapHashId>? hashes = null)
    {
        var target = new InMemoryTarget(portTls: port);
        target.Registry.Authentication = new HostAuthentication(
        [
            new HostAuthenticationEntry(RawNvmeHost.HostNqn, null, new DhChapHostKeys(
                DhChapSecret.Parse(AuthTargetTests.HostSecret), DhChapSecret.Parse(AuthTargetTests.ControllerSecret), hashes, groups, secureConcat)),
        ]);
        return target;
    }

    private static async Task<(RawNvmeHost Host, NvmeCompletion Connect)> AdminAsync(InMemoryTarget target)
    {
        var host = target.Connect();
        await host.InitializeAsync();
        var connect = await host.ConnectAsync(InMemoryTarget.SubsystemNqn, 0, 31);
        return (host, connect);
    }

    private static DhChapHostSession Session(byte secureChannel, string? controllerSecret = null) =>
        new(DhChapSecret.Parse(AuthTargetTests.HostSecret), controllerSecret is null ? null : DhChapSecret.Parse(controllerSecret),
            RawNvmeHost.HostNqn, InMemoryTarget.SubsystemNqn, 11, secureChannel: secureChannel);

    /// <summary>Sends a hand-made Negotiate and returns the Failure1 reason the next AUTH_Receive carries (null: a Challenge).</summary>
    private static async Task<AuthFailureReason?> NegotiateAsync(RawNvmeHost host, byte secureChannel, DhChapHashId[] hashes, DhChapGroupId[] groups)
    {
        var buffer = new byte[NegotiateMessage.Size];
        new NegotiateMessage(5, secureChannel, hashes, groups).Write(buffer);
        Assert.That((await AuthTargetTests.SendAsync(host, buffer)).Status.IsSuccess, Is.True);
        var received = await AuthTargetTests.ReceiveAsync(host);
        return FailureMessage.TryRead(received, out var failure) && failure.Id == AuthMessageId.Failure1 ? failure.Reason : null;
    }

    private static long Outcome(InMemoryTarget target, AuthenticationOutcome outcome) =>
        Interlocked.Read(ref target.Registry.Counters.AuthenticationsByOutcome[(int)outcome]);

    [TestCase(DhChapHashId.Sha256, DhChapGroupId.Ffdhe2048)]
    [TestCase(DhChapHashId.Sha384, DhChapGroupId.Ffdhe3072)]
    public async Task NewTlsPsk_OnPlainAdminQueue_StoresTheTlsPskTheHostDerives(DhChapHashId hash, DhChapGroupId group)
    {
        await using var target = Target(groups: [group], hashes: [hash]);
        var (host, connect) = await AdminAsync(target);
        await using var _ = host;
        Assert.That(new ConnectResponse(connect.Dw0).SecureChannelRequired, Is.False, "not required unless configured");
        using var session = Session(NegotiateMessage.NewTlsPsk, AuthTargetTests.ControllerSecret);
        Assert.That(await AuthTargetTests.AuthenticateAsync(host, session), Is.Null);
        using var hostPsk = session.TakeGeneratedPsk();
        using var stored = target.Registry.GeneratedPsks.Find(hostPsk.Identity);
        Assert.Multiple(() =>
        {
            Assert.That(hostPsk.Identity.ToString(), Does.StartWith($"NVMe1G{(int)hash:D2} {RawNvmeHost.HostNqn} {InMemoryTarget.SubsystemNqn} "));
            Assert.That(stored, Is.Not.Null, "the target stored the generated PSK under the same identity");
            Assert.That(stored!.TlsPsk.ToArray(), Is.EqualTo(hostPsk.TlsPsk.ToArray()));
            Assert.That(Interlocked.Read(ref target.Registry.Counters.GeneratedPsks[0]), Is.EqualTo(1));
            Assert.That(Outcome(target, AuthenticationOutcome.Success), Is.EqualTo(1));
        });
    }

    [Test]
    public async Task SecureConcatHost_GetsAtrAndAscr_AndSecureChannelZeroIsAConcatMismatch()
    {
        await using var target = Target(secureConcat: true);
        var (host, connect) = await AdminAsync(target);
        await using var _ = host;
        var response = new ConnectResponse(connect.Dw0);
        Assert.That(response.AuthenticationRequired && response.SecureChannelRequired, Is.True, $"DW0 0x{connect.Dw0:x8}");
        Assert.That(await NegotiateAsync(host, NegotiateMessage.NoSecureChannel, [DhChapHashId.Sha256], [DhChapGroupId.Ffdhe2048]),
            Is.EqualTo(AuthFailureReason.ConcatMismatch));
        Assert.That(Outcome(target, AuthenticationOutcome.ConcatMismatch), Is.EqualTo(1));
    }

    [Test]
    public async Task SecureConcatHost_PlainIoQueue_IsRefused()
    {
        await using var target = Target(secureConcat: true);
        var (admin, connect) = await AdminAsync(target);
        await using var _ = admin;
        await using var io = target.Connect();
        await io.InitializeAsync();
        var refused = await io.ConnectAsync(InMemoryTarget.SubsystemNqn, 1, 31, cntlid: new ConnectResponse(connect.Dw0).ControllerId);
        Assert.That(refused.Status.Is(NvmeStatusCodes.ConnectInvalidHost), Is.True, refused.Status.ToString());
    }

    [Test]
    public async Task NullGroupOnly_UnderConcatenation_IsAConcatMismatch_AsTheKernelSays()
    {
        await using var target = Target(groups: [DhChapGroupId.Null]);
        var (host, _) = await AdminAsync(target);
        await using var _h = host;
        Assert.That(await NegotiateAsync(host, NegotiateMessage.NewTlsPsk, [DhChapHashId.Sha256], [DhChapGroupId.Null, DhChapGroupId.Ffdhe2048]),
            Is.EqualTo(AuthFailureReason.ConcatMismatch));
    }

    [Test]
    public async Task NoSharedGroup_UnderConcatenation_IsDhGroupUnusable()
    {
        await using var target = Target(groups: [DhChapGroupId.Ffdhe4096]);
        var (host, _) = await AdminAsync(target);
        await using var _h = host;
        Assert.That(await NegotiateAsync(host, NegotiateMessage.NewTlsPsk, [DhChapHashId.Sha256], [DhChapGroupId.Ffdhe2048]),
            Is.EqualTo(AuthFailureReason.DhGroupUnusable));
    }

    [Test]
    public async Task OnlySha512_UnderConcatenation_IsHashUnusable()
    {
        await using var target = Target();
        var (host, _) = await AdminAsync(target);
        await using var _h = host;
        Assert.That(await NegotiateAsync(host, NegotiateMessage.NewTlsPsk, [DhChapHashId.Sha512], [DhChapGroupId.Ffdhe2048]),
            Is.EqualTo(AuthFailureReason.HashUnusable));
    }

    [TestCase(NegotiateMessage.ReplaceTlsPsk, PortTlsMode.Optional, TestName = "ReplaceTlsPsk_OnAPlainQueue_IsAConcatMismatch")]
    [TestCase(NegotiateMessage.NewTlsPsk, PortTlsMode.None, TestName = "NewTlsPsk_OnAPortWithoutTls_IsAConcatMismatch")]
    [TestCase((byte)1, PortTlsMode.Optional, TestName = "UndefinedSecureChannelValue_IsAConcatMismatch")]
    public async Task SecureChannelMisuse_IsAConcatMismatch(byte secureChannel, PortTlsMode port)
    {
        await using var target = Target(port: port);
        var (host, _) = await AdminAsync(target);
        await using var _h = host;
        Assert.That(await NegotiateAsync(host, secureChannel, [DhChapHashId.Sha256], [DhChapGroupId.Ffdhe2048]),
            Is.EqualTo(AuthFailureReason.ConcatMismatch));
        Assert.That(target.Registry.GeneratedPsks.Count, Is.Zero);
    }

    [Test]
    public async Task NewTlsPsk_OnAnIoQueue_IsAConcatMismatch()
    {
        await using var target = Target();
        var (admin, connect) = await AdminAsync(target);
        await using var _ = admin;
        using (var session = Session(NegotiateMessage.NoSecureChannel))
        {
            Assert.That(await AuthTargetTests.AuthenticateAsync(admin, session), Is.Null);
        }

        await using var io = target.Connect();
        await io.InitializeAsync();
        var ioConnect = await io.ConnectAsync(InMemoryTarget.SubsystemNqn, 1, 31, cntlid: new ConnectResponse(connect.Dw0).ControllerId);
        Assert.That(new ConnectResponse(ioConnect.Dw0).AuthenticationRequired, Is.True, ioConnect.Status.ToString());
        Assert.That(await NegotiateAsync(io, NegotiateMessage.NewTlsPsk, [DhChapHashId.Sha256], [DhChapGroupId.Ffdhe2048]),
            Is.EqualTo(AuthFailureReason.ConcatMismatch));
    }

    [Test]
    public async Task NewTlsPsk_WithoutHostChallenge_Fails()
    {
        await using var target = Target(groups: [DhChapGroupId.Ffdhe2048], hashes: [DhChapHashId.Sha256]);
        var (host, _) = await AdminAsync(target);
        await using var _h = host;
        using var session = Session(NegotiateMessage.NewTlsPsk);
        var buffer = new byte[DhChapHostSession.ReceiveBufferSize];
        await AuthTargetTests.SendAsync(host, buffer.AsMemory(0, session.WriteNegotiate(buffer)));
        int length = session.TryReply(await AuthTargetTests.ReceiveAsync(host), buffer, out _, out _);
        Assert.That(length, Is.GreaterThan(0));
        buffer[ReplyMessage.ChallengeValidOffset] = 0; // CVALID 0: no C2 for the PSK (kernel: Failure1 "failed")
        await AuthTargetTests.SendAsync(host, buffer.AsMemory(0, length));
        var received = await AuthTargetTests.ReceiveAsync(host);
        Assert.That(FailureMessage.TryRead(received, out var failure) ? failure.Reason : (AuthFailureReason?)null, Is.EqualTo(AuthFailureReason.Failed));
        Assert.That(target.Registry.GeneratedPsks.Count, Is.Zero);
    }
}
