using NvmeMptls.Transport.Nvme;
using NvmeMptls.Transport.Sockets;
using NvmeMptls.Transport.Tls;

namespace NvmeMptls.Initiator;

/// <summary>
/// How to reach and run one NVMe/TCP controller. Immutable: start from <see cref="Default"/> and change
/// what you need with <c>with</c>. The defaults follow the Linux host (<c>nvme connect</c>).
/// </summary>
public sealed record NvmeControllerOptions
{
    /// <summary>The options every field of which has its default value.</summary>
    public static NvmeControllerOptions Default { get; } = new();

    /// <summary>Target address (IP literal or host name). Default <c>127.0.0.1</c>.</summary>
    public string TargetAddress { get; init; } = "127.0.0.1";

    /// <summary>Target TCP port. Default 4420 (NVM subsystems); the discovery service usually listens on 8009.</summary>
    public int TargetPort { get; init; } = 4420;

    /// <summary>NQN of the subsystem to connect to. Required (no default).</summary>
    public string SubsystemNqn { get; init; } = "";

    /// <summary>Our host NQN: from <c>/etc/nvme/hostnqn</c> if present, else a UUID-based NQN generated once per process.</summary>
    public string HostNqn { get; init; } = HostIdentity.DefaultHostNqn;

    /// <summary>Our 128-bit host identifier: from <c>/etc/nvme/hostid</c> if present, else the UUID of <see cref="HostNqn"/>.</summary>
    public Guid HostId { get; init; } = HostIdentity.DefaultHostId;

    /// <summary>I/O queues to ask for (the controller may grant fewer). Default min(4, processor count). 0 = admin queue only.</summary>
    public int IoQueueCount { get; init; } = Math.Min(4, Environment.ProcessorCount);

    /// <summary>Entries per I/O queue (SQSIZE + 1). Default 128.</summary>
    public int QueueSize { get; init; } = 128;

    /// <summary>Ask for CRC32C header digests.</summary>
    public bool HeaderDigest { get; init; }

    /// <summary>Ask for CRC32C data digests.</summary>
    public bool DataDigest { get; init; }

    /// <summary>Keep-alive timeout sent in the admin Connect; Keep Alive is sent every half of it. Zero disables. Default 5 s.</summary>
    public TimeSpan KeepAliveTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Pause between reconnect attempts after a connection loss (Linux <c>--reconnect-delay</c>). Default 10 s.</summary>
    public TimeSpan ReconnectDelay { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>How long to keep reconnecting before commands fail (Linux <c>--ctrl-loss-tmo</c>). Default 600 s.</summary>
    public TimeSpan ControllerLossTimeout { get; init; } = TimeSpan.FromSeconds(600);

    /// <summary>Limit for one queue's TCP connect, ICReq/ICResp and Fabrics Connect. Default 10 s (the Linux ICResp limit).</summary>
    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// A command without a completion after this long counts as a lost connection: the queue is reset and the
    /// command retried (Linux <c>nvme_core.io_timeout</c>). Default 30 s; zero disables. Never applies to the AER.
    /// </summary>
    public TimeSpan CommandTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Multipath TCP policy for the production socket layer. Default <see cref="NvmeMultipathPolicy.Preferred"/>.</summary>
    public NvmeMultipathPolicy Multipath { get; init; } = NvmeMultipathPolicy.Preferred;

    /// <summary>Wrap each queue's stream in TLS 1.3 (consumed by the TLS connection factory).</summary>
    public bool Tls { get; init; }

    /// <summary>Configured PSK in interchange format (<c>NVMeTLSkey-1:…</c>), or null to look it up.</summary>
    public string? TlsKey { get; init; }

    /// <summary>TLS PSK identity version (1 = <c>NVMe1R…</c>-style identities with a PSK digest).</summary>
    public int TlsIdentityVersion { get; init; } = 1;

    /// <summary>Derive the identity and TLS PSK in the older libnvme "compat" form instead of the RFC 8446 form.</summary>
    public bool TlsCompat { get; init; }

    /// <summary>Opt-in NSS key log (SSLKEYLOGFILE format) for decrypting captures; null (default) writes none.</summary>
    public string? TlsKeyLogFile { get; init; }

    /// <summary>Paths (MPTCP subflows) each queue is expected to use; connecting warns when this host's path manager cannot reach it.</summary>
    public int ExpectedPaths { get; init; } = 1;

    /// <summary>Records sealed under one TLS write key before the key-limit policy acts; null for the default (2^24).</summary>
    public long? TlsKeyLimitRecords { get; init; }

    /// <summary>
    /// At the key limit send a TLS KeyUpdate instead of reconnecting the queue. Only for peers that accept KeyUpdate
    /// (not Linux kTLS). Default false: the queue reconnects with new keys.
    /// </summary>
    public bool TlsKeyUpdate { get; init; }

    /// <summary>
    /// DH-HMAC-CHAP host secret (<c>DHHC-1:XX:…:</c>, as <c>nvme connect --dhchap-secret</c>) with which every queue
    /// authenticates when the controller asks for it (ATR in the Connect response); null (default): none, and a
    /// controller that requires authentication is refused.
    /// </summary>
    public string? DhChapSecret { get; init; }

    /// <summary>
    /// DH-HMAC-CHAP controller secret (<c>nvme connect --dhchap-ctrl-secret</c>): with it the host also checks the
    /// controller's response (bidirectional authentication). Needs <see cref="DhChapSecret"/>.
    /// </summary>
    public string? DhChapControllerSecret { get; init; }

    /// <summary>
    /// Secure channel concatenation (TP 8018, <c>nvme connect --concat</c>): the admin queue connects in the clear and
    /// runs DH-HMAC-CHAP with SC_C NEWTLSPSK (needs <see cref="DhChapSecret"/>; a DH group and SHA-256/384 are negotiated),
    /// both ends derive a TLS PSK from it, and the host reconnects the admin queue and every I/O queue with TLS 1.3 under
    /// that PSK (over TCP or MPTCP, whatever <see cref="Multipath"/> says). Like the Linux host, no controller response
    /// is checked in the concatenating transaction. Not with <see cref="Tls"/>: the key comes from the exchange.
    /// </summary>
    public bool SecureConcat { get; init; }

    /// <summary>
    /// Where I/O completions run: <see cref="NvmeCompletionMode.ThreadPool"/> (default; the continuation may block) or
    /// <see cref="NvmeCompletionMode.Inline"/> (on the queue's receive thread, commands submitted there leave in one send
    /// per receive burst; the continuation must not block). <c>nvme-mptls bench</c> uses Inline.
    /// </summary>
    public NvmeCompletionMode CompletionMode { get; init; }

    /// <summary>
    /// Busy-polling of each I/O queue's socket before a receive would wait (zero: off, the default; at most 10 ms):
    /// a completion that comes back within it is read without a thread's sleep and wake-up. Trades CPU for latency at
    /// low queue depth; see <see cref="NvmeMptls.Transport.Sockets.SocketConnectionOptions.ReceivePoll"/>.
    /// </summary>
    public TimeSpan ReceivePoll { get; init; }

    /// <summary>Open the queues' sockets inside this network namespace (/var/run/netns/NAME); null for the current one.</summary>
    public string? NetworkNamespace { get; init; }

    /// <summary>
    /// The clock behind keep-alive, reconnect back-off, command and connect timeouts. Default <see cref="TimeProvider.System"/>;
    /// tests pass a fake clock to advance time instead of sleeping.
    /// </summary>
    public TimeProvider TimeProvider { get; init; } = TimeProvider.System;

    /// <summary>Throws <see cref="ArgumentException"/> naming the first bad setting and the values it accepts.</summary>
    public void Validate()
    {
        if (!Enum.IsDefined(CompletionMode))
        {
            throw new ArgumentException($"CompletionMode {(int)CompletionMode} is not ThreadPool or Inline", nameof(CompletionMode));
        }

        if (ReceivePoll < TimeSpan.Zero || ReceivePoll > SocketConnectionOptions.MaxReceivePoll)
        {
            throw new ArgumentException(
                $"ReceivePoll must be 0 (off) to {SocketConnectionOptions.MaxReceivePoll.TotalMilliseconds} ms, not {ReceivePoll.TotalMicroseconds} µs", nameof(ReceivePoll));
        }

        if (string.IsNullOrWhiteSpace(TargetAddress))
        {
            throw new ArgumentException("TargetAddress must be an IP address or host name", nameof(TargetAddress));
        }

        if (TargetPort is < 1 or > 65535)
        {
            throw new ArgumentException($"TargetPort {TargetPort} is outside 1..65535", nameof(TargetPort));
        }

        CheckNqn(SubsystemNqn, nameof(SubsystemNqn));
        CheckNqn(HostNqn, nameof(HostNqn));
        if (IoQueueCount is < 0 or > 1024)
        {
            throw new ArgumentException($"IoQueueCount {IoQueueCount} is outside 0..1024", nameof(IoQueueCount));
        }

        if (QueueSize is < 2 or > 1024)
        {
            throw new ArgumentException($"QueueSize {QueueSize} is outside 2..1024", nameof(QueueSize));
        }

        CheckDuration(KeepAliveTimeout, nameof(KeepAliveTimeout), allowZero: true);
        CheckDuration(ReconnectDelay, nameof(ReconnectDelay), allowZero: true);
        CheckDuration(ControllerLossTimeout, nameof(ControllerLossTimeout), allowZero: true);
        CheckDuration(ConnectTimeout, nameof(ConnectTimeout), allowZero: false);
        CheckDuration(CommandTimeout, nameof(CommandTimeout), allowZero: true);
        if (KeepAliveTimeout.TotalMilliseconds > uint.MaxValue)
        {
            throw new ArgumentException("KeepAliveTimeout does not fit the 32-bit KATO field (ms)", nameof(KeepAliveTimeout));
        }

        if (Tls && string.IsNullOrWhiteSpace(TlsKey))
        {
            throw new ArgumentException("Tls needs TlsKey: a PSK in interchange format (NVMeTLSkey-1:HH:...:) or the path of a file holding one", nameof(TlsKey));
        }

        CheckDhChap();
        if (ExpectedPaths is < 1 or > 8)
        {
            throw new ArgumentException($"ExpectedPaths {ExpectedPaths} is outside 1..8", nameof(ExpectedPaths));
        }

        if (TlsKeyLimitRecords is { } limit && (limit <= 0 || limit > TlsRecordLayerOptions.AesGcmRecordLimit))
        {
            throw new ArgumentException($"TlsKeyLimitRecords {limit} is outside 1..{TlsRecordLayerOptions.AesGcmRecordLimit}", nameof(TlsKeyLimitRecords));
        }

        if (TimeProvider is null)
        {
            throw new ArgumentException("TimeProvider must be set (TimeProvider.System for the real clock)", nameof(TimeProvider));
        }

        if (TlsIdentityVersion is < 0 or > 1)
        {
            throw new ArgumentException($"TlsIdentityVersion {TlsIdentityVersion} is not 0 or 1", nameof(TlsIdentityVersion));
        }
    }

    private void CheckDhChap()
    {
        if (DhChapControllerSecret is not null && DhChapSecret is null)
        {
            throw new ArgumentException("DhChapControllerSecret needs DhChapSecret (the host secret)", nameof(DhChapControllerSecret));
        }

        if (SecureConcat && DhChapSecret is null)
        {
            throw new ArgumentException("SecureConcat needs DhChapSecret: the TLS PSK is generated by DH-HMAC-CHAP", nameof(SecureConcat));
        }

        if (SecureConcat && Tls)
        {
            throw new ArgumentException("SecureConcat and Tls exclude each other: concatenation generates its own TLS PSK (as nvme connect --concat without --tls)", nameof(SecureConcat));
        }

        CheckSecret(DhChapSecret, nameof(DhChapSecret));
        CheckSecret(DhChapControllerSecret, nameof(DhChapControllerSecret));
        if (DhChapSecret is not null && string.Equals(DhChapSecret.Trim(), DhChapControllerSecret?.Trim(), StringComparison.Ordinal))
        {
            throw new ArgumentException("DhChapControllerSecret must differ from DhChapSecret", nameof(DhChapControllerSecret));
        }
    }

    private static void CheckSecret(string? secret, string name)
    {
        if (secret is null)
        {
            return;
        }

        // The message says what is wrong without echoing the secret.
        if (!Crypto.Auth.DhChapSecret.TryParse(secret, out var parsed, out var problem))
        {
            throw new ArgumentException($"{name}: {problem}", name);
        }

        parsed.Dispose();
    }

    private static void CheckNqn(string nqn, string name)
    {
        if (Nqn.Check(nqn) is { } problem)
        {
            throw new ArgumentException($"{name} {problem}", name);
        }
    }

    private static void CheckDuration(TimeSpan value, string name, bool allowZero)
    {
        if (value < TimeSpan.Zero || (!allowZero && value == TimeSpan.Zero))
        {
            throw new ArgumentException($"{name} {value} must be {(allowZero ? "zero or positive" : "positive")}", name);
        }
    }
}
