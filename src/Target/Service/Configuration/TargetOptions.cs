using System.Collections.Immutable;

namespace NvmeMptls.Target.Configuration;

/// <summary>
/// The whole target configuration (section "Target"). Instances returned by <see cref="TargetConfiguration"/> and
/// <see cref="TargetCommandLine"/> are validated and resolved: every serial, NGUID and UUID is filled in.
/// </summary>
public sealed record TargetOptions
{
    public const string SectionName = "Target";

    public const string DefaultSubsystemNqn = "nqn.2026-01.io.nvmemptls:default";

    /// <summary>What the target runs with when nothing is configured: one 1 GiB memory namespace on 127.0.0.1:4420.</summary>
    public static TargetOptions Default { get; } = new TargetOptions().Resolve();

    public ImmutableArray<SubsystemOptions> Subsystems { get; init; } = [SubsystemOptions.Default];

    public ImmutableArray<PortOptions> Ports { get; init; } = [PortOptions.Default];

    public TlsOptions Tls { get; init; } = new();

    public DhChapOptions DhChap { get; init; } = new();

    public LimitsOptions Limits { get; init; } = new();

    public KeepAliveOptions KeepAlive { get; init; } = new();

    public TimeoutOptions Timeouts { get; init; } = new();

    public MetricsOptions Metrics { get; init; } = new();

    public AnaOptions Ana { get; init; } = new();

    /// <summary>The gateway group this target belongs to; null: none (section "Target:Gateway" absent).</summary>
    public GatewayOptions? Gateway { get; init; }

    public TimeSpan ShutdownGracePeriod { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>How queues send their answers: "burst" (the receive loop flushes each burst's answers inline) or "loop" (a send task per queue).</summary>
    public Tcp.QueueSendMode SendMode { get; init; } = Tcp.QueueSendMode.Burst;

    /// <summary>
    /// Busy-polling of each connection's socket before a receive would wait, in microseconds (0: off, the default; at
    /// most 10000). Trades CPU for latency at low queue depth: see <see cref="Transport.Sockets.SocketConnectionOptions.ReceivePoll"/>.
    /// </summary>
    public int ReceivePollMicroseconds { get; init; }

    /// <summary>Fills in the values derived from others (serials, NGUIDs, UUIDs) that were left unset.</summary>
    public TargetOptions Resolve()
    {
        var subsystems = ImmutableArray.CreateBuilder<SubsystemOptions>(Subsystems.Length);
        foreach (SubsystemOptions subsystem in Subsystems)
        {
            subsystems.Add(subsystem.Resolve());
        }

        var resolved = this with { Subsystems = subsystems.MoveToImmutable() };

        // In a gateway group an acknowledged write must be in the OSDs: librbd's cache is off unless configured.
        return Gateway is null ? resolved : resolved with
        {
            Subsystems = [.. resolved.Subsystems.Select(s => s with
            {
                Namespaces = [.. s.Namespaces.Select(n => n.Rbd is { Cache: null } rbd ? n with { Rbd = rbd with { Cache = false } } : n)],
            })],
        };
    }
}

public sealed record SubsystemOptions
{
    public static SubsystemOptions Default { get; } = new();

    public string Nqn { get; init; } = TargetOptions.DefaultSubsystemNqn;

    /// <summary>Serial number (SN, at most 20 printable ASCII characters); empty means "derive from the NQN".</summary>
    public string Serial { get; init; } = "";

    /// <summary>Model number (MN, at most 40 printable ASCII characters).</summary>
    public string Model { get; init; } = "NvmeMptls";

    public bool AllowAnyHost { get; init; } = true;

    public ImmutableArray<string> AllowedHosts { get; init; } = [];

    public ImmutableArray<NamespaceOptions> Namespaces { get; init; } = [NamespaceOptions.Default];

    public SubsystemOptions Resolve()
    {
        var namespaces = ImmutableArray.CreateBuilder<NamespaceOptions>(Namespaces.Length);
        foreach (NamespaceOptions ns in Namespaces)
        {
            namespaces.Add(ns with
            {
                Nguid = ns.Nguid != UInt128.Zero ? ns.Nguid : NamespaceIdentifiers.DeriveNguid(Nqn, ns.Nsid),
                Uuid = ns.Uuid != Guid.Empty ? ns.Uuid : NamespaceIdentifiers.DeriveUuid(Nqn, ns.Nsid),
            });
        }

        return this with
        {
            Serial = Serial.Length > 0 ? Serial : NamespaceIdentifiers.DeriveSerial(Nqn),
            Namespaces = namespaces.MoveToImmutable(),
        };
    }
}

public sealed record NamespaceOptions
{
    public const long DefaultSizeBytes = 1L << 30;

    public static NamespaceOptions Default { get; } = new();

    public uint Nsid { get; init; } = 1;

    public NamespaceBacking Backing { get; init; } = NamespaceBacking.Memory;

    /// <summary>File or block device path; required for file and block backing, unused for memory.</summary>
    public string? Path { get; init; }

    /// <summary>Namespace size in bytes; null means "the file's or device's size" (not allowed for memory).</summary>
    public long? SizeBytes { get; init; } = DefaultSizeBytes;

    /// <summary>512 or 4096.</summary>
    public int LbaSize { get; init; } = 512;

    /// <summary>
    /// "IoEngine" of a file or block namespace: io_uring (default; O_DIRECT where the file system allows it, falling
    /// back to positional where the kernel refuses io_uring) or positional (pread/pwrite on the thread pool).
    /// </summary>
    public NvmeMptls.Target.Namespaces.IoEngine IoEngine { get; init; } = NvmeMptls.Target.Namespaces.IoEngine.IoUring;

    /// <summary>NGUID as a big-endian 128-bit number (byte 0 of the Identify field is the most significant); zero means "derive".</summary>
    public UInt128 Nguid { get; init; }

    /// <summary>UUID for the namespace identification descriptor; <see cref="Guid.Empty"/> means "derive".</summary>
    public Guid Uuid { get; init; }

    public bool ReadOnly { get; init; }

    /// <summary>ANAGRPID: the ANA group (1..128) whose per-port state decides which ports serve this namespace.</summary>
    public uint AnaGroup { get; init; } = 1;

    /// <summary>
    /// File keeping the namespace's persistent reservations across restarts (Persist Through Power Loss); null keeps
    /// them in memory only and reports PTPL as not supported.
    /// </summary>
    public string? ReservationStateFile { get; init; }

    /// <summary>The image of an rbd namespace; null for the other backings.</summary>
    public RbdOptions? Rbd { get; init; }

    /// <summary>Writes the NGUID in Identify Namespace byte order (16 bytes).</summary>
    public void WriteNguid(Span<byte> destination) => NamespaceIdentifiers.WriteNguid(Nguid, destination);

    /// <summary>Writes the UUID in RFC 9562 (network) byte order, as the NIDT 3 descriptor carries it (16 bytes).</summary>
    public void WriteUuid(Span<byte> destination) => NamespaceIdentifiers.WriteUuid(Uuid, destination);
}

public sealed record PortOptions
{
    public static PortOptions Default { get; } = new();

    public int Id { get; init; } = 1;

    /// <summary>IP address literal to listen on (0.0.0.0 / :: for all).</summary>
    public string Address { get; init; } = "127.0.0.1";

    public int Port { get; init; } = 4420;

    /// <summary>TCP port of the discovery controller; null means no separate discovery listener.</summary>
    public int? DiscoveryPort { get; init; } = 8009;

    /// <summary>Address of the discovery listener; null means <see cref="Address"/>.</summary>
    public string? DiscoveryAddress { get; init; }

    public MultipathMode Multipath { get; init; } = MultipathMode.Preferred;

    /// <summary>Paths (subflows) each connection is expected to use; start-up warns when the path manager cannot reach it.</summary>
    public int ExpectedPaths { get; init; } = 1;

    public TlsMode Tls { get; init; } = TlsMode.None;

    /// <summary>This port's ANA state per group; groups not listed are optimized here. Changes apply live (ANA Change notice).</summary>
    public AnaStateMap AnaStates { get; init; } = AnaStateMap.Empty;

    /// <summary>Bind the listeners inside this network namespace (/var/run/netns/NAME); null for the current one.</summary>
    public string? NetworkNamespace { get; init; }

    public System.Net.IPEndPoint ListenEndPoint => new(System.Net.IPAddress.Parse(Address), Port);

    public System.Net.IPEndPoint? DiscoveryEndPoint =>
        DiscoveryPort is { } port ? new(System.Net.IPAddress.Parse(DiscoveryAddress ?? Address), port) : null;
}

public sealed record TlsOptions
{
    public ImmutableArray<TlsKeyOptions> Keys { get; init; } = [];

    public TimeSpan HandshakeTimeout { get; init; } = TimeSpan.FromSeconds(10);

    public KeyUpdateMode KeyUpdate { get; init; } = KeyUpdateMode.Reconnect;

    /// <summary>Records sealed under one key before <see cref="KeyUpdate"/> acts; null for the record layer's default (2^24).</summary>
    public long? KeyLimitRecords { get; init; }

    /// <summary>NSS key log file for Wireshark; null disables it. Never set in production.</summary>
    public string? KeyLogFile { get; init; }
}

/// <summary>One configured PSK in interchange format, given inline or in a file; optionally bound to a host and/or subsystem.</summary>
public sealed record TlsKeyOptions
{
    public string? Key { get; init; }

    public string? KeyFile { get; init; }

    public string? HostNqn { get; init; }

    public string? SubsystemNqn { get; init; }

    /// <summary>
    /// Override for version-0 identities (<c>NVMe0R0x host subsys</c>, no digest to tell the forms apart). Unset
    /// (default): both the RFC 8446 form and libnvme's older "compat" form (nvme-cli ≤ 2.15, e.g. Debian 13's 2.13)
    /// are tried and the one whose PSK binder verifies is used. true: compat form only; false: RFC form only.
    /// Version-1 identities are matched in either form regardless.
    /// </summary>
    public bool? V0Compat { get; init; }

    /// <summary>The interchange string: <see cref="Key"/>, or the trimmed contents of <see cref="KeyFile"/>.</summary>
    public string ReadKey() => Key ?? File.ReadAllText(KeyFile ?? throw new InvalidOperationException("no Key or KeyFile")).Trim();

    // Keep key material out of logs and exception messages.
    public override string ToString() =>
        $"TlsKeyOptions {{ Key = {(Key is null ? "null" : "<redacted>")}, KeyFile = {KeyFile ?? "null"}, HostNqn = {HostNqn ?? "null"}, SubsystemNqn = {SubsystemNqn ?? "null"} }}";
}

public sealed record LimitsOptions
{
    public int MaxIoQueues { get; init; } = 64;

    public int MaxQueueSize { get; init; } = 1024;

    /// <summary>In-capsule data bytes accepted in a command capsule (IOCCSZ = 4 + this / 16).</summary>
    public int InCapsuleDataSize { get; init; } = 16384;

    /// <summary>MAXH2CDATA advertised in ICResp.</summary>
    public int MaxH2CData { get; init; } = 131072;

    /// <summary>Largest transfer of one command in bytes (MDTS = log2(this / 4096)).</summary>
    public int MaxDataTransferSize { get; init; } = 1048576;

    /// <summary>Process-wide budget of command data buffers (write data fetched by R2T, read data); commands wait beyond it.</summary>
    public long MaxBufferedBytes { get; init; } = 1L << 30;

    /// <summary>Data buffer budget of one connection; at least MaxDataTransferSize.</summary>
    public long MaxConnectionBufferedBytes { get; init; } = 64L << 20;

    /// <summary>Writes of one queue whose R2T was sent and whose data has not all arrived; more R2Ts wait.</summary>
    public int MaxOutstandingR2T { get; init; } = 256;

    /// <summary>Pooled data buffers unused for this long are dropped and the memory returned to the OS.</summary>
    public TimeSpan BufferIdleTrim { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Connections at once over all ports; more are closed at accept.</summary>
    public int MaxConnections { get; init; } = 4096;

    /// <summary>Connections at once from one source address; more are closed at accept.</summary>
    public int MaxConnectionsPerAddress { get; init; } = 1024;

    /// <summary>Connected queues of one host NQN; more Connects get Connect Controller Busy.</summary>
    public int MaxConnectionsPerHost { get; init; } = 1024;

    /// <summary>Live controllers of one host NQN; more admin Connects get Connect Controller Busy.</summary>
    public int MaxControllersPerHost { get; init; } = 64;
}

public sealed record KeepAliveOptions
{
    public TimeSpan DiscoveryDefaultTimeout { get; init; } = TimeSpan.FromMinutes(2);
}

/// <summary>
/// Phase deadlines (section "Target:Timeouts"): each runs from the start of its phase whatever the peer sends, so a
/// connection that trickles bytes is cut off as surely as a silent one.
/// </summary>
public sealed record TimeoutOptions
{
    /// <summary>From accept to a whole ICReq; on a TLS port, to the first bytes (then again from the end of the handshake).</summary>
    public TimeSpan IcReq { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>From ICResp to a successful Fabrics Connect.</summary>
    public TimeSpan Connect { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// From an R2T to the last byte of the H2CData it asked for. 30 s, the Linux host's default I/O timeout
    /// (nvme_core.io_timeout): by then the host has given the command up and is resetting the queue anyway.
    /// </summary>
    public TimeSpan Data { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>How long the socket may take none of a flush of pending responses and read data (same reasoning as <see cref="Data"/>).</summary>
    public TimeSpan SendStall { get; init; } = TimeSpan.FromSeconds(30);
}

public sealed record MetricsOptions
{
    public bool Enabled { get; init; } = true;

    public string Url { get; init; } = "http://127.0.0.1:9464/metrics";
}

public enum NamespaceBacking
{
    Memory,
    File,
    Block,
    Rbd,
}

public enum MultipathMode
{
    Preferred,
    Required,
    Disabled,
}

public enum TlsMode
{
    None,
    Optional,
    Required,
}

public enum KeyUpdateMode
{
    Reconnect,
    KeyUpdate,
    None,
}
