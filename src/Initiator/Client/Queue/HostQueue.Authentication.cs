using System.Security.Cryptography;
using NvmeMptls.Crypto.Auth;
using NvmeMptls.Crypto.Psk;
using NvmeMptls.Transport.Nvme;
using NvmeMptls.Transport.Nvme.Auth;

namespace NvmeMptls.Initiator.Queue;

/// <summary>In-band authentication of one queue after its Connect returned ATR (NVMe Base 2.0 §8.13; reference §5).</summary>
internal sealed partial class HostQueue
{
    private QueueParameters? _authentication;

    /// <summary>The queue's Connect asked for in-band authentication (ATR), so it can re-authenticate.</summary>
    public bool RequiresAuthentication => Volatile.Read(ref _authentication) is not null;

    /// <summary>
    /// Runs a new DH-HMAC-CHAP transaction on this authenticated queue (NVMe Base 2.0 §8.13: the host may re-authenticate
    /// at any time; a new Negotiate restarts it), with a fresh T_ID, while other commands keep running.
    /// </summary>
    public Task ReauthenticateAsync(CancellationToken cancellationToken) =>
        Volatile.Read(ref _authentication) is { } p
            ? AuthenticateAsync(p, NegotiateMessage.NoSecureChannel, $"queue {QueueId} re-authentication", cancellationToken)
            : throw new InvalidOperationException($"queue {QueueId}: the controller did not ask for in-band authentication (no ATR in Connect)");

    /// <summary>
    /// The TLS PSK the queue's concatenating transaction generated (SC_C NEWTLSPSK/REPLACETLSPSK), for the controller to take
    /// and dispose; null otherwise.
    /// </summary>
    public DerivedTlsPsk? GeneratedPsk { get; private set; }

    /// <summary>Takes <see cref="GeneratedPsk"/> (the caller disposes it).</summary>
    public DerivedTlsPsk? TakeGeneratedPsk()
    {
        var psk = GeneratedPsk;
        GeneratedPsk = null;
        return psk;
    }

    /// <summary>
    /// Re-authenticates this (admin) queue on request, e.g. with SC_C REPLACETLSPSK on a TLS admin queue to re-key the
    /// generated PSK; returns the new PSK when the transaction concatenated.
    /// </summary>
    public Task<DerivedTlsPsk?> ReauthenticateAsync(QueueParameters p, byte secureChannel, CancellationToken cancellationToken) =>
        AuthenticateAsync(p, secureChannel, $"queue {QueueId}", cancellationToken);

    /// <summary>
    /// Runs one DH-HMAC-CHAP transaction over AUTH_Send/AUTH_Receive: Negotiate (every hash and group), the Reply to the
    /// controller's Challenge, Success1 (checking R2 when a controller secret asks for bidirectional authentication),
    /// then Success2 — or Failure2 when the host refuses the controller.
    /// </summary>
    private async Task<DerivedTlsPsk?> AuthenticateAsync(QueueParameters p, byte secureChannel, string where, CancellationToken cancellationToken)
    {
        if (p.DhChapSecret is null)
        {
            throw new NvmeAuthenticationException($"{where}: the controller requires in-band authentication and no DH-HMAC-CHAP secret is configured (--dhchap-secret)", 0, rejectedByController: false);
        }

        Volatile.Write(ref _authentication, p);
        using var hostSecret = DhChapSecret.Parse(p.DhChapSecret);
        using var controllerSecret = p.DhChapControllerSecret is null ? null : DhChapSecret.Parse(p.DhChapControllerSecret);
        var transactionId = (ushort)RandomNumberGenerator.GetInt32(0, ushort.MaxValue + 1);
        // TP 8018: concatenation happens on the admin queue only.
        secureChannel = QueueId == 0 ? secureChannel : NegotiateMessage.NoSecureChannel;
        using var session = new DhChapHostSession(hostSecret, controllerSecret, p.HostNqn, p.SubsystemNqn, transactionId, secureChannel: secureChannel);
        var message = new byte[DhChapHostSession.ReceiveBufferSize];
        var received = new byte[DhChapHostSession.ReceiveBufferSize];

        await AuthSendAsync(message.AsMemory(0, session.WriteNegotiate(message)), where, cancellationToken).ConfigureAwait(false);
        await AuthReceiveAsync(received, where, cancellationToken).ConfigureAwait(false);
        int length = session.TryReply(received, message, out var failure, out bool controllerFailed);
        if (length < 0)
        {
            await RefuseAsync(session, message, failure, controllerFailed, "Challenge", where, cancellationToken).ConfigureAwait(false);
        }

        await AuthSendAsync(message.AsMemory(0, length), where, cancellationToken).ConfigureAwait(false);
        CryptographicOperations.ZeroMemory(message);
        await AuthReceiveAsync(received, where, cancellationToken).ConfigureAwait(false);
        if (!session.CheckSuccess1(received, out failure, out controllerFailed))
        {
            await RefuseAsync(session, message, failure, controllerFailed, "Success1", where, cancellationToken).ConfigureAwait(false);
        }

        if (session.Bidirectional)
        {
            await AuthSendAsync(message.AsMemory(0, session.WriteSuccess2(message)), where, cancellationToken).ConfigureAwait(false);
        }

        Log.QueueAuthenticated(_logger, QueueId, DhChapNames.Of(session.Hash), DhChapNames.Of(session.Group), session.Bidirectional ? "bidirectional" : "unidirectional");
        if (!session.Concatenating)
        {
            return null;
        }

        var generated = session.TakeGeneratedPsk();
        Log.TlsPskGenerated(_logger, QueueId, generated.Identity.ToString());
        return generated;
    }

    /// <summary>Ends a failed transaction: a Failure1 from the controller needs no answer, otherwise the host sends Failure2.</summary>
    private async Task RefuseAsync(DhChapHostSession session, byte[] buffer, AuthFailureReason reason, bool controllerFailed, string step, string where, CancellationToken cancellationToken)
    {
        if (controllerFailed)
        {
            throw new NvmeAuthenticationException($"{where}: DH-HMAC-CHAP refused by the controller (Failure1: {DhChapNames.Of(reason)})", (int)reason, rejectedByController: true);
        }

        // The Linux target (nvmet) treats a Failure2 as fatal for the controller and may close the connection before the
        // AUTH_Send completes: the host's verdict is still the error to report, not the lost connection.
        Exception? afterwards = null;
        try
        {
            await AuthSendAsync(buffer.AsMemory(0, session.WriteFailure2(buffer, reason)), where, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or NvmeStatusException && !cancellationToken.IsCancellationRequested)
        {
            afterwards = ex;
        }

        throw new NvmeAuthenticationException($"{where}: the controller's DH-HMAC-CHAP {step} was refused (Failure2: {DhChapNames.Of(reason)})", (int)reason, rejectedByController: false, afterwards);
    }

    private async Task AuthSendAsync(ReadOnlyMemory<byte> message, string where, CancellationToken cancellationToken)
    {
        var completion = await SubmitAsync(new AuthCommand(IsSend: true, (uint)message.Length).ToCommand(), default, message, cancellationToken).ConfigureAwait(false);
        if (!completion.Status.IsSuccess)
        {
            throw new NvmeStatusException(completion.Status, $"{where}: Authentication Send failed");
        }
    }

    private async Task AuthReceiveAsync(byte[] buffer, string where, CancellationToken cancellationToken)
    {
        Array.Clear(buffer);
        var completion = await SubmitAsync(new AuthCommand(IsSend: false, (uint)buffer.Length).ToCommand(), buffer, default, cancellationToken).ConfigureAwait(false);
        if (!completion.Status.IsSuccess)
        {
            throw new NvmeStatusException(completion.Status, $"{where}: Authentication Receive failed");
        }
    }
}
