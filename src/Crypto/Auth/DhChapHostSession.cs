using System.Security.Cryptography;
using NvmeMptls.Crypto.Psk;
using NvmeMptls.Transport.Nvme.Auth;

namespace NvmeMptls.Crypto.Auth;

/// <summary>
/// The host side of one DH-HMAC-CHAP transaction (NVMe Base 2.0 §8.13; reference §5), without any transport: it writes
/// the Negotiate, turns the controller's Challenge into a Reply, checks Success1 (and R2 when bidirectional) and writes
/// Success2 or Failure2. The caller moves the bytes with AUTH_Send/AUTH_Receive. Secrets of the transaction (transformed
/// keys, DH exponent, session key, C1, C2) are zeroed on dispose or as soon as they are used.
/// With secure channel concatenation (SC_C NEWTLSPSK or REPLACETLSPSK, TP 8018) the host offers only what a generated
/// PSK can use (SHA-256/384, a DH group), sends C2 with SEQNUM 0 as the Linux host does (no bidirectional authentication:
/// the kernel target frees C2 before a Success2 would arrive), and <see cref="TakeGeneratedPsk"/> yields the TLS PSK.
/// </summary>
public sealed class DhChapHostSession : IDisposable
{
    /// <summary>An allocation length that holds any message the controller sends (the kernel host uses 4096 too).</summary>
    public const int ReceiveBufferSize = 4096;

    private readonly DhChapSecret _hostSecret;
    private readonly DhChapSecret? _controllerSecret;
    private readonly string _hostNqn;
    private readonly string _subsystemNqn;
    private readonly IReadOnlyList<DhChapHashId> _hashes;
    private readonly IReadOnlyList<DhChapGroupId> _groups;
    private byte[]? _sessionKey;
    private byte[]? _challenge1;
    private byte[]? _challenge2;
    private uint _sequence2;

    public DhChapHostSession(DhChapSecret hostSecret, DhChapSecret? controllerSecret, string hostNqn, string subsystemNqn, ushort transactionId,
        IReadOnlyList<DhChapHashId>? hashes = null, IReadOnlyList<DhChapGroupId>? groups = null, byte secureChannel = NegotiateMessage.NoSecureChannel)
    {
        if (secureChannel is not (NegotiateMessage.NoSecureChannel or NegotiateMessage.NewTlsPsk or NegotiateMessage.ReplaceTlsPsk))
        {
            throw new ArgumentOutOfRangeException(nameof(secureChannel), secureChannel, "SC_C is 0 (none), 2 (NEWTLSPSK) or 3 (REPLACETLSPSK)");
        }
        _hostSecret = hostSecret;
        _controllerSecret = controllerSecret;
        _hostNqn = hostNqn;
        _subsystemNqn = subsystemNqn;
        TransactionId = transactionId;
        SecureChannel = secureChannel;
        var all = NegotiateMessage.OfferAll(transactionId);
        _hashes = hashes is { Count: > 0 } ? hashes : all.Hashes;
        _groups = groups is { Count: > 0 } ? groups : all.Groups;
        if (Concatenating)
        {
            // A generated PSK needs a session key (a DH group) and a digest hash (SHA-256 or SHA-384): offer nothing else.
            _hashes = _hashes.Where(SecureChannelPsk.Supports).ToArray();
            _groups = _groups.Where(g => g != DhChapGroupId.Null).ToArray();
            if (_hashes.Count == 0 || _groups.Count == 0)
            {
                throw new ArgumentException("secure channel concatenation needs SHA-256 or SHA-384 and a non-null DH group among those offered");
            }
        }
    }

    public ushort TransactionId { get; }

    /// <summary>SC_C of the Negotiate: 0 none, 2 NEWTLSPSK, 3 REPLACETLSPSK.</summary>
    public byte SecureChannel { get; }

    /// <summary>The transaction generates a TLS PSK (SC_C NEWTLSPSK or REPLACETLSPSK).</summary>
    public bool Concatenating => SecureChannel != NegotiateMessage.NoSecureChannel;

    /// <summary>
    /// With a controller secret the host asks the controller to prove itself (CVALID, S2 ≠ 0) — except when concatenating,
    /// where, as the Linux host, it sends C2 with S2 = 0 for the PSK only.
    /// </summary>
    public bool Bidirectional => _controllerSecret is not null && !Concatenating;

    /// <summary>The hash and group the controller chose, once the Challenge is in.</summary>
    public DhChapHashId Hash { get; private set; }

    public DhChapGroupId Group { get; private set; }

    public int WriteNegotiate(Span<byte> destination) =>
        new NegotiateMessage(TransactionId, SecureChannel, _hashes, _groups).Write(destination);

    /// <summary>
    /// Reads what AUTH_Receive returned after the Negotiate and writes the Reply. Returns its length, or -1 with
    /// <paramref name="failure"/> set: the controller's Failure1 reason (<paramref name="controllerFailed"/> true) or the
    /// reason the host refuses the Challenge with (send it back in a Failure2).
    /// </summary>
    public int TryReply(ReadOnlySpan<byte> received, Span<byte> reply, out AuthFailureReason failure, out bool controllerFailed)
    {
        if (IsFailure1(received, out failure, out controllerFailed))
        {
            return -1;
        }
        if (!ChallengeMessage.TryRead(received, out var challenge)
            || challenge!.TransactionId != TransactionId)
        {
            failure = AuthFailureReason.IncorrectPayload;
            return -1;
        }
        // The controller must pick from what was offered, with the matching hash length.
        if (!Contains(_hashes, challenge.Hash) || challenge.Challenge.Length != DhChapHashes.Length(challenge.Hash))
        {
            failure = AuthFailureReason.HashUnusable;
            return -1;
        }
        if (!Contains(_groups, challenge.Group) || challenge.DhValue.Length != (FfdheGroup.For(challenge.Group)?.Size ?? 0))
        {
            failure = AuthFailureReason.DhGroupUnusable;
            return -1;
        }
        // TP 8018: concatenation derives the PSK from the DH session key; a controller that picks no group cannot give one.
        if (Concatenating && challenge.Group == DhChapGroupId.Null)
        {
            failure = AuthFailureReason.ConcatMismatch;
            return -1;
        }
        Hash = challenge.Hash;
        Group = challenge.Group;
        int hl = DhChapHashes.Length(Hash);
        byte[] challenge1 = new byte[hl];
        byte[] response = new byte[hl];
        byte[]? hostKey = null;
        byte[] publicValue = [];
        try
        {
            if (FfdheGroup.For(Group) is { } group)
            {
                using var pair = group.CreateKeyPair();
                _sessionKey = new byte[group.Size];
                if (!pair.TryDeriveSessionKey(challenge.DhValue.Span, _sessionKey))
                {
                    failure = AuthFailureReason.DhGroupUnusable;
                    return -1;
                }
                publicValue = pair.PublicValue.ToArray();
                DhChapResponses.AugmentChallenge(Hash, _sessionKey, challenge.Challenge.Span, challenge1);
            }
            else
            {
                challenge.Challenge.Span.CopyTo(challenge1);
            }
            hostKey = _hostSecret.Transform(_hostNqn);
            // R1 hashes the SC_C of the Negotiate (kernel nvmet_auth_host_hash since the late-2025 fix).
            DhChapResponses.HostResponse(Hash, hostKey, challenge1, challenge.Sequence, TransactionId, SecureChannel,
                _hostNqn, _subsystemNqn, response);
            if (Bidirectional || Concatenating)
            {
                _challenge2 = new byte[hl];
                RandomNumberGenerator.Fill(_challenge2);
                _sequence2 = Bidirectional ? (uint)RandomNumberGenerator.GetInt32(1, int.MaxValue) : 0;
            }
            if (Concatenating)
            {
                _challenge1 = challenge.Challenge.ToArray();
            }
            var message = new ReplyMessage(TransactionId, _sequence2, response, _challenge2 is not null, _challenge2 ?? ReadOnlyMemory<byte>.Empty, publicValue);
            failure = default;
            return message.Write(reply);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(challenge1);
            CryptographicOperations.ZeroMemory(response);
            if (hostKey is not null)
            {
                CryptographicOperations.ZeroMemory(hostKey);
            }
        }
    }

    /// <summary>
    /// Reads what AUTH_Receive returned after the Reply: true for Success1 (with a matching R2 when bidirectional).
    /// False with the controller's Failure1 reason, or with the reason for the host's own Failure2 (R2 wrong or missing).
    /// </summary>
    public bool CheckSuccess1(ReadOnlySpan<byte> received, out AuthFailureReason failure, out bool controllerFailed)
    {
        if (IsFailure1(received, out failure, out controllerFailed))
        {
            return false;
        }
        if (!Success1Message.TryRead(received, out var success) || success!.TransactionId != TransactionId)
        {
            failure = AuthFailureReason.IncorrectPayload;
            return false;
        }
        if (!Bidirectional)
        {
            return true;
        }
        int hl = DhChapHashes.Length(Hash);
        if (!success.ResponseValid || success.Response.Length != hl)
        {
            failure = AuthFailureReason.Failed;
            return false;
        }
        byte[] challenge2 = new byte[hl];
        byte[] expected = new byte[hl];
        byte[] controllerKey = _controllerSecret!.Transform(_subsystemNqn);
        try
        {
            if (_sessionKey is not null)
            {
                DhChapResponses.AugmentChallenge(Hash, _sessionKey, _challenge2, challenge2);
            }
            else
            {
                _challenge2!.CopyTo(challenge2, 0);
            }
            DhChapResponses.ControllerResponse(Hash, controllerKey, challenge2, _sequence2, TransactionId, _hostNqn, _subsystemNqn, expected);
            if (!CryptographicOperations.FixedTimeEquals(expected, success.Response.Span))
            {
                failure = AuthFailureReason.Failed;
                return false;
            }
            return true;
        }
        finally
        {
            CryptographicOperations.ZeroMemory(challenge2);
            CryptographicOperations.ZeroMemory(expected);
            CryptographicOperations.ZeroMemory(controllerKey);
        }
    }

    /// <summary>
    /// After a successful concatenating transaction: the generated PSK's identity and TLS PSK (the caller disposes it).
    /// The session key and challenges are zeroed; a second call throws.
    /// </summary>
    public DerivedTlsPsk TakeGeneratedPsk()
    {
        if (!Concatenating || _sessionKey is null || _challenge1 is null || _challenge2 is null)
        {
            throw new InvalidOperationException("no generated PSK: the transaction did not concatenate, did not finish, or the PSK was taken");
        }
        try
        {
            return SecureChannelPsk.Derive(Hash, _sessionKey, _challenge1, _challenge2, _hostNqn, _subsystemNqn);
        }
        finally
        {
            ZeroSecrets();
        }
    }

    public int WriteSuccess2(Span<byte> destination) => new Success2Message(TransactionId).Write(destination);

    public int WriteFailure2(Span<byte> destination, AuthFailureReason reason) =>
        new FailureMessage(AuthMessageId.Failure2, TransactionId, reason).Write(destination);

    private static bool IsFailure1(ReadOnlySpan<byte> received, out AuthFailureReason reason, out bool controllerFailed)
    {
        controllerFailed = FailureMessage.TryRead(received, out var failure) && failure.Id == AuthMessageId.Failure1;
        reason = controllerFailed ? failure.Reason : default;
        return controllerFailed;
    }

    private static bool Contains<T>(IReadOnlyList<T> list, T value)
        where T : struct, Enum
    {
        for (int i = 0; i < list.Count; i++)
        {
            if (EqualityComparer<T>.Default.Equals(list[i], value))
            {
                return true;
            }
        }
        return false;
    }

    public void Dispose() => ZeroSecrets();

    private void ZeroSecrets()
    {
        foreach (byte[]? secret in (ReadOnlySpan<byte[]?>)[_sessionKey, _challenge1, _challenge2])
        {
            if (secret is not null)
            {
                CryptographicOperations.ZeroMemory(secret);
            }
        }
        _sessionKey = null;
        _challenge1 = null;
        _challenge2 = null;
    }
}
