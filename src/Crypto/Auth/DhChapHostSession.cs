using System.Security.Cryptography;
using NvmeMptls.Transport.Nvme.Auth;

namespace NvmeMptls.Crypto.Auth;

/// <summary>
/// The host side of one DH-HMAC-CHAP transaction (NVMe Base 2.0 §8.13; reference §5), without any transport: it writes
/// the Negotiate, turns the controller's Challenge into a Reply, checks Success1 (and R2 when bidirectional) and writes
/// Success2 or Failure2. The caller moves the bytes with AUTH_Send/AUTH_Receive. Secrets of the transaction (transformed
/// keys, DH exponent, session key, C2) are zeroed on dispose or as soon as they are used.
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
    private byte[]? _challenge2;
    private uint _sequence2;

    public DhChapHostSession(DhChapSecret hostSecret, DhChapSecret? controllerSecret, string hostNqn, string subsystemNqn, ushort transactionId,
        IReadOnlyList<DhChapHashId>? hashes = null, IReadOnlyList<DhChapGroupId>? groups = null)
    {
        _hostSecret = hostSecret;
        _controllerSecret = controllerSecret;
        _hostNqn = hostNqn;
        _subsystemNqn = subsystemNqn;
        TransactionId = transactionId;
        var all = NegotiateMessage.OfferAll(transactionId);
        _hashes = hashes is { Count: > 0 } ? hashes : all.Hashes;
        _groups = groups is { Count: > 0 } ? groups : all.Groups;
    }

    public ushort TransactionId { get; }

    /// <summary>With a controller secret the host asks the controller to prove itself (CVALID, S2 ≠ 0).</summary>
    public bool Bidirectional => _controllerSecret is not null;

    /// <summary>The hash and group the controller chose, once the Challenge is in.</summary>
    public DhChapHashId Hash { get; private set; }

    public DhChapGroupId Group { get; private set; }

    public int WriteNegotiate(Span<byte> destination) =>
        new NegotiateMessage(TransactionId, NegotiateMessage.NoSecureChannel, _hashes, _groups).Write(destination);

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
            DhChapResponses.HostResponse(Hash, hostKey, challenge1, challenge.Sequence, TransactionId, NegotiateMessage.NoSecureChannel,
                _hostNqn, _subsystemNqn, response);
            if (Bidirectional)
            {
                _challenge2 = new byte[hl];
                RandomNumberGenerator.Fill(_challenge2);
                _sequence2 = (uint)RandomNumberGenerator.GetInt32(1, int.MaxValue);
            }
            var message = new ReplyMessage(TransactionId, _sequence2, response, Bidirectional, _challenge2 ?? ReadOnlyMemory<byte>.Empty, publicValue);
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

    public void Dispose()
    {
        if (_sessionKey is not null)
        {
            CryptographicOperations.ZeroMemory(_sessionKey);
        }
        if (_challenge2 is not null)
        {
            CryptographicOperations.ZeroMemory(_challenge2);
        }
    }
}
