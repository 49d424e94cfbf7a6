using Microsoft.Extensions.Logging;
using NvmeMptls.Crypto.Auth;
using NvmeMptls.Transport.Nvme.Auth;

namespace NvmeMptls.Target.Auth;

/// <summary>What a queue's transport tells its transaction about secure channel concatenation.</summary>
/// <param name="OnTls">The queue runs inside TLS (NEWTLSPSK is refused there, REPLACETLSPSK needs it).</param>
/// <param name="TlsIdentity">The PSK identity of that TLS session; a REPLACETLSPSK retires it when it is a generated one.</param>
/// <param name="PortAcceptsTls">The port takes TLS connections, so the host can come back with the generated PSK.</param>
internal readonly record struct QueueSecurity(bool OnTls, string? TlsIdentity, bool PortAcceptsTls);

/// <summary>Secure channel concatenation (TP 8018; reference §5): the SC_C rules and the generated PSK.</summary>
internal sealed partial class AuthTransaction
{
    /// <summary>
    /// Why this SC_C cannot be honoured on this queue (Failure1 "concat mismatch"), or null. Kernel nvmet_auth_negotiate:
    /// only on the admin queue; NEWTLSPSK only on a queue without TLS, REPLACETLSPSK only on one with it; other values
    /// are refused. Ours also needs a port the host can reconnect to with TLS, and a host configured to concatenate
    /// must do so on its plain admin queue.
    /// </summary>
    private string? SecureChannelProblem(byte secureChannel)
    {
        if (secureChannel == NegotiateMessage.NoSecureChannel)
        {
            return _keys!.SecureConcat && _queueId == 0 && !_security.OnTls
                ? "this host must use secure channel concatenation (the Connect response asked for it with ASCR), SC_C was 0"
                : null;
        }
        if (_queueId != 0)
        {
            return $"SC_C {secureChannel} on I/O queue {_queueId}: concatenation happens on the admin queue only";
        }
        return secureChannel switch
        {
            NegotiateMessage.NewTlsPsk when _security.OnTls => "SC_C NEWTLSPSK on a queue already inside TLS (REPLACETLSPSK re-keys one)",
            NegotiateMessage.NewTlsPsk when !_security.PortAcceptsTls => "SC_C NEWTLSPSK on a port without TLS: the host could not reconnect with the generated PSK",
            NegotiateMessage.NewTlsPsk => null,
            NegotiateMessage.ReplaceTlsPsk when !_security.OnTls => "SC_C REPLACETLSPSK on a queue without TLS (NEWTLSPSK creates a first PSK)",
            NegotiateMessage.ReplaceTlsPsk => null,
            _ => $"SC_C {secureChannel} is not defined (0 none, 2 NEWTLSPSK, 3 REPLACETLSPSK)",
        };
    }

    private static bool UsableForConcat<T>(T id)
        where T : struct, Enum => id switch
        {
            DhChapHashId hash => SecureChannelPsk.Supports(hash),
            DhChapGroupId group => group != DhChapGroupId.Null,
            _ => true,
        };

    /// <summary>
    /// Derives the generated PSK from this transaction (HMAC(KS, C1 || C2) → digest → NVMe1G identity → TLS PSK) and
    /// stores it where the TLS step finds it; a REPLACETLSPSK retires the generated key its TLS session was keyed with.
    /// </summary>
    private void InsertGeneratedPsk()
    {
        var psk = SecureChannelPsk.Derive(_hash, _sessionKey!, _challenge!, _challenge2!, _hostNqn, _subsystemNqn);
        string identity = psk.Identity.ToString();
        _registry.GeneratedPsks.Insert(psk);
        bool replace = _secureChannel == NegotiateMessage.ReplaceTlsPsk;
        if (replace && _security.TlsIdentity is { } old && old.StartsWith("NVMe1G", StringComparison.Ordinal) && old != identity)
        {
            _registry.GeneratedPsks.Remove(old);
        }
        Interlocked.Increment(ref _registry.Counters.GeneratedPsks[replace ? 1 : 0]);
        ConcatLog.PskGenerated(_logger, _remote, _hostNqn, replace ? "REPLACETLSPSK" : "NEWTLSPSK", identity, _registry.GeneratedPsks.Lifetime.TotalMinutes);
    }

    private static partial class ConcatLog
    {
        [LoggerMessage(EventId = 3505, Level = LogLevel.Information, Message = "Connection {Remote}: host {HostNqn} concatenated ({Mode}): TLS PSK {Identity} generated, valid for {Minutes} min")]
        public static partial void PskGenerated(ILogger logger, string remote, string hostNqn, string mode, string identity, double minutes);
    }
}
