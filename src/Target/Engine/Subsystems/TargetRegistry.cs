using System.Collections.Concurrent;
using NvmeMptls.Target.Server;
using NvmeMptls.Transport.Nvme;

namespace NvmeMptls.Target.Subsystems;

/// <summary>Whether a port speaks TLS: none, optional (a plain ICReq is peeked for, like Linux) or required.</summary>
public enum PortTlsMode
{
    None,
    Optional,
    Required,
}

/// <summary>A listening port as discovery reports it.</summary>
public sealed record TargetPortInfo(ushort Id, string Address, int Port, PortTlsMode Tls)
{
    /// <summary>True for the port's discovery listener: served under the same id, never listed in the discovery log.</summary>
    public bool IsDiscovery { get; init; }
}

/// <summary>Protocol limits of this target (validated configuration).</summary>
public sealed record TargetLimits
{
    public int MaxIoQueues { get; init; } = 64;

    /// <summary>Largest SQSIZE+1 an I/O queue may have (CAP.MQES + 1).</summary>
    public int MaxQueueSize { get; init; } = 1024;

    /// <summary>In-capsule data accepted on I/O queues (IOCCSZ = (64 + this)/16).</summary>
    public int InCapsuleDataSize { get; init; } = 16384;

    /// <summary>In-capsule data accepted on the admin queue and for fabrics commands (≥ 8 KiB for Linux hosts).</summary>
    public int AdminInCapsuleDataSize { get; init; } = 8192;

    public uint MaxH2CData { get; init; } = 128 * 1024;

    /// <summary>Largest transfer of one command (MDTS), a power of two ≥ 4096.</summary>
    public int MaxDataTransferSize { get; init; } = 1024 * 1024;

    public TimeSpan DiscoveryDefaultKeepAlive { get; init; } = TimeSpan.FromMinutes(2);

    /// <summary>Deadline from accept for a whole ICReq (on a TLS port: for the first bytes, then again after the handshake).</summary>
    public TimeSpan IcReqTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Deadline from ICResp for a successful Fabrics Connect.</summary>
    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Deadline from an R2T to the last byte of the data it asked for (a deadline, not an idle timer); not positive: off.</summary>
    public TimeSpan DataTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>How long the send loop may wait for the socket to take a flush of pending responses and read data; not positive: off.</summary>
    public TimeSpan SendStallTimeout { get; init; } = TimeSpan.FromSeconds(30);

    public string FirmwareRevision { get; init; } = "1.0";

    /// <summary>Process-wide budget for command data buffers (R2T-fetched and read data) over all connections.</summary>
    public long MaxBufferedBytes { get; init; } = 1L << 30;

    /// <summary>Data buffer budget of one connection (one queue); at least <see cref="MaxDataTransferSize"/> to be useful.</summary>
    public long MaxConnectionBufferedBytes { get; init; } = 64L << 20;

    /// <summary>Writes of one queue waiting for their data (R2Ts sent and not yet answered in full).</summary>
    public int MaxOutstandingR2T { get; init; } = 256;

    /// <summary>Pooled data buffers unused for this long are dropped (and the memory returned to the OS).</summary>
    public TimeSpan BufferIdleTrim { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Connections served at once over all ports; more are closed at accept.</summary>
    public int MaxConnections { get; init; } = 4096;

    /// <summary>Connections served at once from one source address; more are closed at accept.</summary>
    public int MaxConnectionsPerAddress { get; init; } = 1024;

    /// <summary>Connected queues (admin and I/O, all controllers) of one host NQN; more Connects get Controller Busy.</summary>
    public int MaxConnectionsPerHost { get; init; } = 1024;

    /// <summary>Live controllers of one host NQN over all subsystems (discovery included); more admin Connects get Controller Busy.</summary>
    public int MaxControllersPerHost { get; init; } = 64;

    /// <summary>
    /// Lowest controller id this target hands out (nvmet's cntlid_min). Gateways of one subsystem must use disjoint
    /// ranges: a host refuses a second controller of a subsystem with a CNTLID it already has (Linux: "Duplicate cntlid").
    /// </summary>
    public ushort ControllerIdMin { get; init; } = 1;

    /// <summary>Highest controller id this target hands out (nvmet's cntlid_max), at most FFEFh.</summary>
    public ushort ControllerIdMax { get; init; } = 0xFFEF;

    /// <summary>How queues send their answers (<see cref="Tcp.QueueSendMode"/>).</summary>
    public Tcp.QueueSendMode SendMode { get; init; } = Tcp.QueueSendMode.Burst;

    /// <summary>Busy-polling of each connection's socket before a receive would wait (zero: off); see <see cref="Transport.Sockets.SocketConnectionOptions.ReceivePoll"/>.</summary>
    public TimeSpan ReceivePoll { get; init; }
}

/// <summary>
/// Everything the protocol engine serves: subsystems by NQN, the discovery subsystem, listening ports,
/// controller id allocation and the discovery log generation counter.
/// </summary>
public sealed class TargetRegistry
{
    private readonly ConcurrentDictionary<string, Subsystem> _subsystems = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<ushort, TargetPortInfo> _ports = new();
    private int _nextControllerId;
    private long _discoveryGeneration = 1;
    private Auth.HostAuthentication _authentication = Auth.HostAuthentication.None;

    private readonly ConcurrentDictionary<string, int> _hostQueues = new(StringComparer.Ordinal);

    public TargetRegistry(TargetLimits limits, TimeProvider? time = null)
    {
        Limits = limits;
        Time = time ?? TimeProvider.System;
        Buffers = new Tcp.DataBufferPool(limits.MaxBufferedBytes, limits.BufferIdleTrim, Time);
        Discovery = new Subsystem(WellKnownNqns.Discovery, "discovery", "NvmeMptls Discovery", isDiscovery: true, HostAccess.Any);
        GeneratedPsks = new Crypto.Psk.GeneratedPskStore(Time);
        Ana = new AnaGroups(OnAnaChanged);
    }

    /// <summary>ANA groups and each port's state for them.</summary>
    public AnaGroups Ana { get; }

    public TargetLimits Limits { get; }
    public TimeProvider Time { get; }
    public Subsystem Discovery { get; }
    public TargetCounters Counters { get; } = new();

    /// <summary>
    /// TLS PSKs generated by secure channel concatenation (DH-HMAC-CHAP with SC_C NEWTLSPSK/REPLACETLSPSK), found by the
    /// TLS step's keyring when the host reconnects with their <c>NVMe1G…</c> identity; each expires after an hour.
    /// </summary>
    public Crypto.Psk.GeneratedPskStore GeneratedPsks { get; }

    /// <summary>The process-wide data buffer pool and its budget (<see cref="TargetLimits.MaxBufferedBytes"/>).</summary>
    public Tcp.DataBufferPool Buffers { get; }

    /// <summary>Takes one of a host's <see cref="TargetLimits.MaxConnectionsPerHost"/> queues; false when it has them all.</summary>
    public bool TryAddHostQueue(string hostNqn)
    {
        while (true)
        {
            var n = _hostQueues.GetValueOrDefault(hostNqn);
            if (n >= Limits.MaxConnectionsPerHost)
            {
                return false;
            }

            if (n == 0 ? _hostQueues.TryAdd(hostNqn, 1) : _hostQueues.TryUpdate(hostNqn, n + 1, n))
            {
                return true;
            }
        }
    }

    /// <summary>Gives back a queue taken by <see cref="TryAddHostQueue"/>.</summary>
    public void RemoveHostQueue(string hostNqn)
    {
        while (_hostQueues.TryGetValue(hostNqn, out var n))
        {
            if (n <= 1 ? _hostQueues.TryRemove(KeyValuePair.Create(hostNqn, n)) : _hostQueues.TryUpdate(hostNqn, n - 1, n))
            {
                return;
            }
        }
    }

    /// <summary>Connected queues of <paramref name="hostNqn"/> now.</summary>
    public int HostQueues(string hostNqn) => _hostQueues.GetValueOrDefault(hostNqn);

    /// <summary>Live controllers of <paramref name="hostNqn"/> over all subsystems, discovery included.</summary>
    public int ControllersOf(string hostNqn)
    {
        var n = 0;
        foreach (var s in _subsystems.Values.Append(Discovery))
        {
            foreach (var c in s.Controllers)
            {
                if (!c.Closed && string.Equals(c.HostNqn, hostNqn, StringComparison.Ordinal))
                {
                    n++;
                }
            }
        }

        return n;
    }

    /// <summary>Which hosts authenticate in band, with which secrets; swapped whole by live reload.</summary>
    public Auth.HostAuthentication Authentication
    {
        get => Volatile.Read(ref _authentication);
        set => Volatile.Write(ref _authentication, value);
    }

    public ulong DiscoveryGeneration => (ulong)Interlocked.Read(ref _discoveryGeneration);

    private IReadOnlyList<TargetPortInfo> _peerPorts = [];

    public IEnumerable<Subsystem> Subsystems => _subsystems.Values;

    public IEnumerable<TargetPortInfo> Ports => _ports.Values;

    /// <summary>
    /// The other gateways' ports of a gateway group (Target:Gateway:Members): the discovery log lists them for every
    /// subsystem after this target's own ports, so a host that knows one gateway finds every path. Setting a
    /// different list bumps the discovery generation and notifies discovery controllers.
    /// </summary>
    public IReadOnlyList<TargetPortInfo> PeerPorts
    {
        get => Volatile.Read(ref _peerPorts);
        set
        {
            ArgumentNullException.ThrowIfNull(value);
            var old = Interlocked.Exchange(ref _peerPorts, value);
            if (!old.SequenceEqual(value))
            {
                DiscoveryChanged();
            }
        }
    }

    public Subsystem? Find(string nqn) =>
        nqn == WellKnownNqns.Discovery ? Discovery : _subsystems.TryGetValue(nqn, out var s) ? s : null;

    public bool AddSubsystem(Subsystem subsystem)
    {
        if (!_subsystems.TryAdd(subsystem.Nqn, subsystem))
        {
            return false;
        }

        subsystem.Ana = Ana;
        DiscoveryChanged();
        return true;
    }

    public Subsystem? RemoveSubsystem(string nqn)
    {
        if (!_subsystems.TryRemove(nqn, out var s))
        {
            return null;
        }

        DiscoveryChanged();
        return s;
    }

    public void AddPort(TargetPortInfo port)
    {
        _ports[port.Id] = port;
        DiscoveryChanged();
    }

    public void RemovePort(ushort id)
    {
        if (_ports.TryRemove(id, out _))
        {
            DiscoveryChanged();
        }
    }

    /// <summary>The host's access list changed for a subsystem: discovery logs differ now.</summary>
    public void DiscoveryChanged()
    {
        Interlocked.Increment(ref _discoveryGeneration);
        foreach (var controller in Discovery.Controllers)
        {
            controller.OnDiscoveryLogChanged();
        }
    }

    /// <summary>ANA states changed on <paramref name="portId"/> (null: on every port): ANA Change notice to the controllers there.</summary>
    private void OnAnaChanged(ushort? portId)
    {
        foreach (var subsystem in _subsystems.Values)
        {
            foreach (var controller in subsystem.Controllers)
            {
                if (portId is null || controller.AdminPortId == portId)
                {
                    controller.OnAnaChanged();
                }
            }
        }
    }

    /// <summary>
    /// Allocates a controller id in <see cref="TargetLimits.ControllerIdMin"/>..<see cref="TargetLimits.ControllerIdMax"/>
    /// (1..FFEFh by default), unique among live controllers; null when every id of the range is in use.
    /// </summary>
    public ushort? AllocateControllerId()
    {
        int min = Limits.ControllerIdMin, span = Limits.ControllerIdMax - Limits.ControllerIdMin + 1;
        for (var tried = 0; tried < span; tried++)
        {
            var id = (ushort)(min + (int)((uint)Interlocked.Increment(ref _nextControllerId) % (uint)span));
            if (!IsControllerIdInUse(id))
            {
                return id;
            }
        }

        return null;
    }

    private bool IsControllerIdInUse(ushort id)
    {
        if (Discovery.FindController(id) is not null)
        {
            return true;
        }

        foreach (var s in _subsystems.Values)
        {
            if (s.FindController(id) is not null)
            {
                return true;
            }
        }

        return false;
    }
}

/// <summary>Target-wide counters ("connection ended because…" and friends), exported as metrics.</summary>
public sealed class TargetCounters
{
    public long ConnectionsAccepted;
    public long ConnectionsClosed;
    public long TermReqsSent;
    public long TermReqsReceived;
    public long KeepAliveExpiries;
    public long ConnectRejected;
    public long ControllersCreated;
    public long DataDigestErrors;
    public readonly long[] TermReqsSentByFes = new long[8];

    /// <summary>Connections ended, indexed by <see cref="ConnectionEndReason"/>: one count per connection, its first cause.</summary>
    public readonly long[] ConnectionsEndedByReason = new long[Enum.GetValues<ConnectionEndReason>().Length];

    /// <summary>Connections cut at a phase deadline, indexed by <see cref="SetupPhase"/> (including those cut before TLS).</summary>
    public readonly long[] SetupTimeouts = new long[Enum.GetValues<SetupPhase>().Length];

    /// <summary>Times a limit held a peer back (refused a connection or Connect, delayed a command), indexed by <see cref="LimitKind"/>.</summary>
    public readonly long[] LimitsReached = new long[Enum.GetValues<LimitKind>().Length];

    /// <summary>DH-HMAC-CHAP transactions ended, indexed by <see cref="Auth.AuthenticationOutcome"/> (success, a Failure1 reason, host rejected, timeout).</summary>
    public readonly long[] AuthenticationsByOutcome = new long[Enum.GetValues<Auth.AuthenticationOutcome>().Length];

    /// <summary>TLS PSKs generated by secure channel concatenation: [0] NEWTLSPSK, [1] REPLACETLSPSK.</summary>
    public readonly long[] GeneratedPsks = new long[2];
}
