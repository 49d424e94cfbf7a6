using NvmeMptls.Crypto.Auth;
using NvmeMptls.Transport.Nvme.Auth;

namespace NvmeMptls.Target.Auth;

/// <summary>
/// The DH-HMAC-CHAP secrets of one host (or of every host, when the entry names none): the host secret the host proves
/// it holds, the optional controller secret the target proves itself with (bidirectional authentication), and the
/// hashes and DH groups the target accepts, in its order of preference.
/// </summary>
public sealed class DhChapHostKeys
{
    public static readonly IReadOnlyList<DhChapHashId> DefaultHashes = [DhChapHashId.Sha256, DhChapHashId.Sha384, DhChapHashId.Sha512];

    /// <summary>Linux's target defaults to no DH group; ours prefers the smallest FFDHE group and accepts the rest.</summary>
    public static readonly IReadOnlyList<DhChapGroupId> DefaultGroups =
    [
        DhChapGroupId.Ffdhe2048, DhChapGroupId.Ffdhe3072, DhChapGroupId.Ffdhe4096, DhChapGroupId.Ffdhe6144,
        DhChapGroupId.Ffdhe8192, DhChapGroupId.Null,
    ];

    public DhChapHostKeys(DhChapSecret hostSecret, DhChapSecret? controllerSecret = null,
        IReadOnlyList<DhChapHashId>? hashes = null, IReadOnlyList<DhChapGroupId>? groups = null, bool secureConcat = false)
    {
        SecureConcat = secureConcat;
        HostSecret = hostSecret;
        ControllerSecret = controllerSecret;
        Hashes = hashes is { Count: > 0 } ? hashes : DefaultHashes;
        Groups = groups is { Count: > 0 } ? groups : DefaultGroups;
    }

    public DhChapSecret HostSecret { get; }

    public DhChapSecret? ControllerSecret { get; }

    public IReadOnlyList<DhChapHashId> Hashes { get; }

    public IReadOnlyList<DhChapGroupId> Groups { get; }

    /// <summary>
    /// Secure channel concatenation required (TP 8018): the plain admin Connect answers ATR and ASCR, the host must
    /// negotiate SC_C NEWTLSPSK and reconnect with TLS under the generated PSK; plain I/O queues are refused. Without
    /// it a host may still ask for concatenation (as with the Linux target), it is just not required.
    /// </summary>
    public bool SecureConcat { get; }
}

/// <summary>One configured entry: which host and subsystem it applies to (null = any) and its keys.</summary>
public sealed record HostAuthenticationEntry(string? HostNqn, string? SubsystemNqn, DhChapHostKeys Keys);

/// <summary>
/// Which (subsystem, host) pairs must authenticate in band, and with what. An immutable snapshot: live reload swaps the
/// registry's whole instance, so a transaction already running keeps the keys it started with and the next one
/// uses the new ones.
/// </summary>
public sealed class HostAuthentication
{
    public static HostAuthentication None { get; } = new([]);

    public HostAuthentication(IReadOnlyList<HostAuthenticationEntry> entries) => Entries = entries;

    public IReadOnlyList<HostAuthenticationEntry> Entries { get; }

    /// <summary>
    /// The keys for this host on this subsystem: an entry naming both wins over one naming the host only, which wins
    /// over one naming the subsystem only, which wins over a catch-all; null when the host need not authenticate.
    /// </summary>
    public DhChapHostKeys? Find(string subsystemNqn, string hostNqn)
    {
        DhChapHostKeys? best = null;
        int bestScore = -1;
        foreach (var entry in Entries)
        {
            bool hostMatches = entry.HostNqn is null || string.Equals(entry.HostNqn, hostNqn, StringComparison.Ordinal);
            bool subsystemMatches = entry.SubsystemNqn is null || string.Equals(entry.SubsystemNqn, subsystemNqn, StringComparison.Ordinal);
            if (!hostMatches || !subsystemMatches)
            {
                continue;
            }
            int score = (entry.HostNqn is null ? 0 : 2) + (entry.SubsystemNqn is null ? 0 : 1);
            if (score > bestScore)
            {
                best = entry.Keys;
                bestScore = score;
            }
        }
        return best;
    }
}

/// <summary>How an authentication transaction ended, for the counters: success, a Failure1 reason, or neither.</summary>
public enum AuthenticationOutcome
{
    Success = 0,
    Failed = AuthFailureReason.Failed,
    NotUsable = AuthFailureReason.NotUsable,
    ConcatMismatch = AuthFailureReason.ConcatMismatch,
    HashUnusable = AuthFailureReason.HashUnusable,
    DhGroupUnusable = AuthFailureReason.DhGroupUnusable,
    IncorrectPayload = AuthFailureReason.IncorrectPayload,
    IncorrectMessage = AuthFailureReason.IncorrectMessage,

    /// <summary>The host sent Failure2 (it did not accept the controller's response).</summary>
    HostRejected,

    /// <summary>The host stopped half way and the transaction expired.</summary>
    Timeout,
}
