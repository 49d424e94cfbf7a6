using System.Security.Cryptography;
using Microsoft.Extensions.Logging;
using NvmeMptls.Crypto.Auth;
using NvmeMptls.Target.Subsystems;
using NvmeMptls.Transport.Nvme.Auth;

namespace NvmeMptls.Target.Auth;

/// <summary>What the controller side of a DH-HMAC-CHAP transaction waits for next (kernel: the queue's dhchap_step).</summary>
internal enum AuthStep
{
    /// <summary>No transaction: an AUTH_Send with Negotiate starts one.</summary>
    ExpectNegotiate,

    /// <summary>Negotiated: the next AUTH_Receive returns the Challenge.</summary>
    SendChallenge,
    ExpectReply,

    /// <summary>The host's response checked out: the next AUTH_Receive returns Success1.</summary>
    SendSuccess1,

    /// <summary>Bidirectional: the host checks R2 and answers Success2 (or Failure2).</summary>
    ExpectSuccess2,

    /// <summary>Something failed: the next AUTH_Receive returns Failure1 with the reason.</summary>
    SendFailure1,
}

/// <summary>
/// The controller side of in-band authentication on one queue (NVMe Base 2.0 §8.13 DH-HMAC-CHAP; reference §5): the
/// messages an AUTH_Send brings go to <see cref="OnSend"/>, an AUTH_Receive asks <see cref="Respond"/> for the next
/// one. A failure never fails the command: it becomes the Failure1 the next AUTH_Receive returns, as the kernel
/// target does. A transaction that stalls for the timeout (the controller's KATO, else 120 s, as Linux) expires and
/// frees its state. Per-transaction secrets (transformed keys, DH exponent, session key, challenge) are zeroed as soon
/// as they are no longer needed.
/// </summary>
internal sealed partial class AuthTransaction : IDisposable
{
    private static uint s_sequence;

    private readonly Lock _gate = new();
    private readonly TargetRegistry _registry;
    private readonly string _subsystemNqn;
    private readonly string _hostNqn;
    private readonly ushort _queueId;
    private readonly string _remote;
    private readonly TimeSpan _timeout;
    private readonly ILogger _logger;
    private readonly ITimer _timer;
    private readonly QueueSecurity _security;

    private AuthStep _step;
    private volatile bool _authenticated;
    private DhChapHostKeys? _keys;
    private ushort _transactionId;
    private DhChapHashId _hash;
    private DhChapGroupId _group;
    private FfdheKeyPair? _keyPair;
    private byte[]? _challenge;
    private uint _sequence;
    private byte[]? _controllerResponse;
    private bool _bidirectional;
    private AuthFailureReason _failure;
    private string _failureDetail = "";
    private byte _secureChannel;
    private byte[]? _sessionKey;
    private byte[]? _challenge2;
    private string? _closeReason;

    public AuthTransaction(TargetRegistry registry, string subsystemNqn, string hostNqn, ushort queueId, string remote, TimeSpan timeout, ILogger logger,
        QueueSecurity security = default)
    {
        _security = security;
        _registry = registry;
        _subsystemNqn = subsystemNqn;
        _hostNqn = hostNqn;
        _queueId = queueId;
        _remote = remote;
        _timeout = timeout;
        _logger = logger;
        _timer = registry.Time.CreateTimer(static state => ((AuthTransaction)state!).OnExpired(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
    }

    /// <summary>The host proved it holds its secret (and, bidirectional, accepted ours); until then only Fabrics commands run.</summary>
    public bool Authenticated => _authenticated;

    /// <summary>How long the queue stays open after the response carrying a Failure1 (or acknowledging a Failure2) went
    /// out, for the host to read it, before the target closes the connection (a host normally closes first).</summary>
    public static readonly TimeSpan FailureLinger = TimeSpan.FromSeconds(2);

    /// <summary>Closes the queue's connection at once (a Failure1 the host never fetched, when the transaction expired).</summary>
    public Action<string>? TearDown { get; set; }

    /// <summary>
    /// True once after a failed transaction ended with a message to the host (the Failure1 an AUTH_Receive returned,
    /// or the AUTH_Send that brought the host's Failure2): the queue is torn down once that response is sent, as the
    /// Linux target does (nvmet: Failure1 sent, then the controller's fatal error closes its queues).
    /// </summary>
    public bool TakeCloseRequest(out string reason)
    {
        lock (_gate)
        {
            reason = _closeReason ?? "";
            _closeReason = null;
            return reason.Length > 0;
        }
    }

    public AuthStep Step
    {
        get
        {
            lock (_gate)
            {
                return _step;
            }
        }
    }

    /// <summary>Handles the message of an AUTH_Send.</summary>
    public void OnSend(ReadOnlySpan<byte> data)
    {
        lock (_gate)
        {
            if (!AuthMessageHeader.TryRead(data, out var header))
            {
                Fail(AuthFailureReason.IncorrectPayload, $"message of {data.Length} bytes, shorter than its header");
                return;
            }
            if (header is { Type: AuthMessageHeader.CommonMessages, Id: AuthMessageId.Negotiate })
            {
                Negotiate(header, data);
                return;
            }
            if (header is { IsFailure: true, Id: AuthMessageId.Failure2 })
            {
                HostRejected(data);
                return;
            }
            if (_step == AuthStep.ExpectNegotiate)
            {
                _transactionId = header.TransactionId;
            }
            AuthMessageId? expected = _step switch
            {
                AuthStep.ExpectReply => AuthMessageId.Reply,
                AuthStep.ExpectSuccess2 => AuthMessageId.Success2,
                _ => null,
            };
            // NVMe Base 2.0 §8.13 / reference §5 flow: a message out of sequence fails the transaction ("incorrect message").
            if (header.Type != AuthMessageHeader.DhChapMessages || header.Id != expected)
            {
                Fail(AuthFailureReason.IncorrectMessage, $"AUTH_Type {header.Type:x2} AUTH_Id {(byte)header.Id:x2} while at {_step}");
                return;
            }
            // Reference §5 flow table: every message of a transaction carries the T_ID of its Negotiate.
            if (header.TransactionId != _transactionId)
            {
                Fail(AuthFailureReason.IncorrectPayload, $"T_ID {header.TransactionId} in a transaction with T_ID {_transactionId}");
                return;
            }
            if (header.Id == AuthMessageId.Reply)
            {
                Reply(data);
            }
            else
            {
                if (_secureChannel != NegotiateMessage.NoSecureChannel)
                {
                    InsertGeneratedPsk();
                }
                _authenticated = true;
                Finish(AuthenticationOutcome.Success);
            }
        }
    }

    /// <summary>Writes the message an AUTH_Receive returns; -1 when the host's allocation length cannot hold it.</summary>
    public int Respond(Span<byte> destination)
    {
        lock (_gate)
        {
            switch (_step)
            {
                case AuthStep.SendChallenge:
                    return SendChallenge(destination);
                case AuthStep.SendSuccess1:
                    return SendSuccess1(destination);
                case AuthStep.SendFailure1:
                    break;
                default:
                    // The host asks for a message the controller has none for: the transaction fails (kernel: Failure1).
                    Fail(AuthFailureReason.IncorrectMessage, $"AUTH_Receive while at {_step}");
                    break;
            }
            if (destination.Length < FailureMessage.Size)
            {
                return -1;
            }
            int length = new FailureMessage(AuthMessageId.Failure1, _transactionId, _failure).Write(destination);
            _authenticated = false;
            _closeReason = $"DH-HMAC-CHAP failed, Failure1 sent ({DhChapNames.Of(_failure)})";
            Log.Failed(_logger, _remote, _queueId, _hostNqn, DhChapNames.Of(_failure), _failureDetail);
            Finish((AuthenticationOutcome)_failure);
            return length;
        }
    }

    private void Negotiate(AuthMessageHeader header, ReadOnlySpan<byte> data)
    {
        ClearSecrets();
        _transactionId = header.TransactionId;
        // Live reload: every transaction takes the keys configured now.
        _keys = _registry.Authentication.Find(_subsystemNqn, _hostNqn);
        if (_keys is null)
        {
            Fail(AuthFailureReason.NotUsable, "no DH-HMAC-CHAP secret is configured for this host any more");
            return;
        }
        if (!NegotiateMessage.TryRead(data, out var negotiate, out var malformed))
        {
            Fail(malformed, $"malformed Negotiate of {data.Length} bytes");
            return;
        }
        _secureChannel = negotiate!.SecureChannel;
        if (SecureChannelProblem(_secureChannel) is { } concatProblem)
        {
            Fail(AuthFailureReason.ConcatMismatch, concatProblem);
            return;
        }
        bool concat = _secureChannel != NegotiateMessage.NoSecureChannel;
        if (!TryPick(_keys.Hashes, negotiate.Hashes, concat, out _hash))
        {
            Fail(AuthFailureReason.HashUnusable, concat
                ? "the host offers neither sha256 nor sha384 among the configured hashes (a generated PSK needs one)"
                : "the host offers none of the configured hashes");
            return;
        }
        if (!TryPick(_keys.Groups, negotiate.Groups, concat, out _group))
        {
            // Kernel nvmet_auth_negotiate: a null group left as the only choice under concatenation is a concat mismatch.
            bool onlyNull = concat && TryPick(_keys.Groups, negotiate.Groups, false, out _);
            Fail(onlyNull ? AuthFailureReason.ConcatMismatch : AuthFailureReason.DhGroupUnusable, onlyNull
                ? "secure channel concatenation needs a DH group, and the only group both sides accept is null"
                : "the host offers none of the configured DH groups");
            return;
        }
        SetState(AuthStep.SendChallenge);
    }

    private int SendChallenge(Span<byte> destination)
    {
        int hl = DhChapHashes.Length(_hash);
        _challenge = new byte[hl];
        RandomNumberGenerator.Fill(_challenge);
        _sequence = NextSequence();
        _keyPair?.Dispose();
        _keyPair = FfdheGroup.For(_group)?.CreateKeyPair();
        var message = new ChallengeMessage(_transactionId, _hash, _group, _sequence, _challenge,
            _keyPair is null ? ReadOnlyMemory<byte>.Empty : _keyPair.PublicValue.ToArray());
        if (destination.Length < message.Size)
        {
            return -1;
        }
        int length = message.Write(destination);
        SetState(AuthStep.ExpectReply);
        return length;
    }

    private void Reply(ReadOnlySpan<byte> data)
    {
        int hl = DhChapHashes.Length(_hash);
        if (!ReplyMessage.TryRead(data, out var reply))
        {
            Fail(AuthFailureReason.IncorrectPayload, $"Reply of {data.Length} bytes is shorter than its HL and DHVLEN say");
            return;
        }
        if (reply!.HashLength != hl)
        {
            Fail(AuthFailureReason.IncorrectPayload, $"Reply HL {reply.HashLength}, the hash needs {hl}");
            return;
        }
        var group = FfdheGroup.For(_group);
        if (reply.DhValue.Length != (group?.Size ?? 0))
        {
            Fail(AuthFailureReason.IncorrectPayload, $"Reply DHVLEN {reply.DhValue.Length}, {DhChapNames.Of(_group)} needs {group?.Size ?? 0}");
            return;
        }
        byte[]? sessionKey = group is null ? null : new byte[group.Size];
        byte[] challenge1 = new byte[hl];
        byte[] challenge2 = new byte[hl];
        byte[] expected = new byte[hl];
        byte[]? hostKey = null;
        byte[]? controllerKey = null;
        try
        {
            // RFC 7919 §5.1 range check inside: a value that would pin the session key is refused.
            if (sessionKey is not null && !_keyPair!.TryDeriveSessionKey(reply.DhValue.Span, sessionKey))
            {
                Fail(AuthFailureReason.DhGroupUnusable, "the host's DH value is out of range");
                return;
            }
            Augment(sessionKey, _challenge, challenge1);
            hostKey = _keys!.HostSecret.Transform(_hostNqn);
            DhChapResponses.HostResponse(_hash, hostKey, challenge1, _sequence, _transactionId, _secureChannel,
                _hostNqn, _subsystemNqn, expected);
            if (!CryptographicOperations.FixedTimeEquals(expected, reply.Response.Span))
            {
                Fail(AuthFailureReason.Failed, "the host's response does not match its secret");
                return;
            }
            bool concat = _secureChannel != NegotiateMessage.NoSecureChannel;
            // TP 8018 (kernel nvmet_auth_reply): the generated PSK needs the host's C2, so CVALID must be set.
            if (concat && !reply.ChallengeValid)
            {
                Fail(AuthFailureReason.Failed, "secure channel concatenation without a host challenge (CVALID 0)");
                return;
            }
            // NVMe Base 2.2 §8.3.4.5.4 (Reply SEQNUM, as the kernel target cites it): 0 means "no bidirectional authentication";
            // C2 may still come, for the generated PSK only.
            _bidirectional = reply.ChallengeValid && reply.Sequence != 0;
            if (concat)
            {
                _sessionKey = sessionKey!.ToArray();
                _challenge2 = reply.Challenge.ToArray();
                if (!_bidirectional)
                {
                    InsertGeneratedPsk();
                }
            }
            if (_bidirectional)
            {
                if (_keys.ControllerSecret is null)
                {
                    Fail(AuthFailureReason.Failed, "the host asks the controller to authenticate but no controller secret is configured");
                    return;
                }
                Augment(sessionKey, reply.Challenge.Span, challenge2);
                controllerKey = _keys.ControllerSecret.Transform(_subsystemNqn);
                _controllerResponse = new byte[hl];
                DhChapResponses.ControllerResponse(_hash, controllerKey, challenge2, reply.Sequence, _transactionId, _hostNqn, _subsystemNqn,
                    _controllerResponse);
            }
            else
            {
                _authenticated = true;
            }
            SetState(AuthStep.SendSuccess1);
        }
        finally
        {
            Zero(sessionKey, challenge1, challenge2, expected, hostKey, controllerKey);
        }
    }

    private void Augment(byte[]? sessionKey, ReadOnlySpan<byte> challenge, Span<byte> destination)
    {
        if (sessionKey is null)
        {
            challenge.CopyTo(destination);
        }
        else
        {
            DhChapResponses.AugmentChallenge(_hash, sessionKey, challenge, destination);
        }
    }

    private int SendSuccess1(Span<byte> destination)
    {
        var message = new Success1Message(_transactionId, DhChapHashes.Length(_hash), _controllerResponse ?? ReadOnlyMemory<byte>.Empty);
        if (destination.Length < message.Size)
        {
            return -1;
        }
        int length = message.Write(destination);
        if (_bidirectional)
        {
            SetState(AuthStep.ExpectSuccess2);
        }
        else
        {
            Finish(AuthenticationOutcome.Success);
        }
        return length;
    }

    private void HostRejected(ReadOnlySpan<byte> data)
    {
        _authenticated = false;
        string reason = FailureMessage.TryRead(data, out var failure) ? DhChapNames.Of(failure.Reason) : "malformed Failure2";
        Log.HostRejected(_logger, _remote, _queueId, _hostNqn, reason);
        _closeReason = $"the host rejected the controller (Failure2: {reason})";
        Finish(AuthenticationOutcome.HostRejected);
    }

    private void Fail(AuthFailureReason reason, string detail)
    {
        _authenticated = false;
        _failure = reason;
        _failureDetail = detail;
        SetState(AuthStep.SendFailure1);
    }

    /// <summary>The transaction is over: count it, free its secrets, wait for the next Negotiate.</summary>
    private void Finish(AuthenticationOutcome outcome)
    {
        Interlocked.Increment(ref _registry.Counters.AuthenticationsByOutcome[(int)outcome]);
        if (outcome == AuthenticationOutcome.Success)
        {
            Log.Authenticated(_logger, _remote, _queueId, _hostNqn, DhChapNames.Of(_hash), DhChapNames.Of(_group),
                _bidirectional ? "bidirectional" : "unidirectional");
        }
        ClearSecrets();
        SetState(AuthStep.ExpectNegotiate);
    }

    private void OnExpired()
    {
        string? tearDown = null;
        lock (_gate)
        {
            if (_step == AuthStep.ExpectNegotiate)
            {
                return;
            }
            Log.Expired(_logger, _remote, _queueId, _hostNqn, _step.ToString(), _timeout.TotalSeconds);
            // A failed transaction whose Failure1 the host never fetched ends the queue (a stalled one in progress
            // only resets, as Linux: the host may start over).
            if (_step == AuthStep.SendFailure1)
            {
                tearDown = $"DH-HMAC-CHAP failed ({DhChapNames.Of(_failure)}) and the host did not fetch the Failure1 within {_timeout.TotalSeconds:0} s";
            }
            _authenticated = false;
            Finish(AuthenticationOutcome.Timeout);
        }
        // Outside the lock: closing the queue disposes this transaction.
        if (tearDown is not null)
        {
            TearDown?.Invoke(tearDown);
        }
    }

    /// <summary>The only way the step changes: rejects transitions the protocol has no message for, and (re)arms the timeout.</summary>
    private void SetState(AuthStep next)
    {
        if (!IsLegal(_step, next))
        {
            throw new InvalidOperationException($"authentication on queue {_queueId}: illegal step {_step} → {next}");
        }
        _step = next;
        _timer.Change(next == AuthStep.ExpectNegotiate ? Timeout.InfiniteTimeSpan : _timeout, Timeout.InfiniteTimeSpan);
    }

    internal static bool IsLegal(AuthStep from, AuthStep to) => (from, to) switch
    {
        // A Negotiate restarts from anywhere; any step can fail; every step can end.
        (_, AuthStep.SendChallenge) or (_, AuthStep.SendFailure1) or (_, AuthStep.ExpectNegotiate) => true,
        (AuthStep.SendChallenge, AuthStep.ExpectReply) => true,
        (AuthStep.ExpectReply, AuthStep.SendSuccess1) => true,
        (AuthStep.SendSuccess1, AuthStep.ExpectSuccess2) => true,
        _ => false,
    };

    /// <summary>The first of the target's preferred ids the host offers; for concatenation only those a generated PSK can use.</summary>
    private static bool TryPick<T>(IReadOnlyList<T> preferred, IReadOnlyList<T> offered, bool concat, out T chosen)
        where T : struct, Enum
    {
        foreach (var candidate in preferred)
        {
            if (concat && !UsableForConcat(candidate))
            {
                continue;
            }
            for (int i = 0; i < offered.Count; i++)
            {
                if (EqualityComparer<T>.Default.Equals(offered[i], candidate))
                {
                    chosen = candidate;
                    return true;
                }
            }
        }
        chosen = default;
        return false;
    }

    /// <summary>Sequence numbers as the kernel draws them: a random start, then +1, never 0.</summary>
    private static uint NextSequence()
    {
        uint current = Volatile.Read(ref s_sequence);
        if (current == 0)
        {
            Interlocked.CompareExchange(ref s_sequence, (uint)RandomNumberGenerator.GetInt32(1, int.MaxValue), 0);
        }
        uint next = Interlocked.Increment(ref s_sequence);
        return next != 0 ? next : Interlocked.Increment(ref s_sequence);
    }

    private void ClearSecrets()
    {
        _keyPair?.Dispose();
        _keyPair = null;
        Zero(_challenge, _controllerResponse, _sessionKey, _challenge2);
        _challenge = null;
        _controllerResponse = null;
        _sessionKey = null;
        _challenge2 = null;
        _bidirectional = false;
    }

    private static void Zero(params byte[]?[] buffers)
    {
        foreach (var buffer in buffers)
        {
            if (buffer is not null)
            {
                CryptographicOperations.ZeroMemory(buffer);
            }
        }
    }

    public void Dispose()
    {
        _timer.Dispose();
        lock (_gate)
        {
            ClearSecrets();
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 3501, Level = LogLevel.Information, Message = "Connection {Remote}: queue {Qid} of host {HostNqn} authenticated (DH-HMAC-CHAP {Hash}, {Group}, {Direction})")]
        public static partial void Authenticated(ILogger logger, string remote, ushort qid, string hostNqn, string hash, string group, string direction);

        [LoggerMessage(EventId = 3502, Level = LogLevel.Warning, Message = "Connection {Remote}: queue {Qid} of host {HostNqn} failed authentication, Failure1 sent ({Reason}): {Detail}")]
        public static partial void Failed(ILogger logger, string remote, ushort qid, string hostNqn, string reason, string detail);

        [LoggerMessage(EventId = 3503, Level = LogLevel.Warning, Message = "Connection {Remote}: queue {Qid} of host {HostNqn}: the host rejected the controller's response (Failure2: {Reason})")]
        public static partial void HostRejected(ILogger logger, string remote, ushort qid, string hostNqn, string reason);

        [LoggerMessage(EventId = 3504, Level = LogLevel.Warning, Message = "Connection {Remote}: queue {Qid} of host {HostNqn}: authentication stalled at {Step} for {Seconds} s and was abandoned")]
        public static partial void Expired(ILogger logger, string remote, ushort qid, string hostNqn, string step, double seconds);
    }
}
