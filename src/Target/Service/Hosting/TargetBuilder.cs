using Microsoft.Extensions.Logging;
using NvmeMptls.Crypto.Auth;
using NvmeMptls.Target.Auth;
using NvmeMptls.Target.Configuration;
using NvmeMptls.Target.Namespaces;
using NvmeMptls.Target.Server;
using NvmeMptls.Target.Subsystems;
using NvmeMptls.Transport.Multipath;
using NvmeMptls.Transport.Nvme;
using NvmeMptls.Transport.Nvme.Auth;

namespace NvmeMptls.Target.Hosting;

/// <summary>Turns validated <see cref="TargetOptions"/> into the run-time registry the protocol engine serves.</summary>
public static partial class TargetBuilder
{
    public static TargetLimits ToLimits(TargetOptions options) => new()
    {
        MaxIoQueues = options.Limits.MaxIoQueues,
        MaxQueueSize = options.Limits.MaxQueueSize,
        InCapsuleDataSize = options.Limits.InCapsuleDataSize,
        MaxH2CData = (uint)options.Limits.MaxH2CData,
        MaxDataTransferSize = options.Limits.MaxDataTransferSize,
        DiscoveryDefaultKeepAlive = options.KeepAlive.DiscoveryDefaultTimeout,
        IcReqTimeout = options.Timeouts.IcReq,
        ConnectTimeout = options.Timeouts.Connect,
        DataTimeout = options.Timeouts.Data,
        SendStallTimeout = options.Timeouts.SendStall,
        MaxBufferedBytes = options.Limits.MaxBufferedBytes,
        MaxConnectionBufferedBytes = options.Limits.MaxConnectionBufferedBytes,
        MaxOutstandingR2T = options.Limits.MaxOutstandingR2T,
        BufferIdleTrim = options.Limits.BufferIdleTrim,
        MaxConnections = options.Limits.MaxConnections,
        MaxConnectionsPerAddress = options.Limits.MaxConnectionsPerAddress,
        MaxConnectionsPerHost = options.Limits.MaxConnectionsPerHost,
        MaxControllersPerHost = options.Limits.MaxControllersPerHost,
        FirmwareRevision = typeof(TargetBuilder).Assembly.GetName().Version?.ToString(2) ?? "1.0",
        ControllerIdMin = options.Gateway?.ControllerIdRange.Min ?? 1,
        ControllerIdMax = options.Gateway?.ControllerIdRange.Max ?? 0xFFEF,
        SendMode = options.SendMode,
        ReceivePoll = TimeSpan.FromMicroseconds(options.ReceivePollMicroseconds),
    };

    public static TargetRegistry BuildRegistry(TargetOptions options, ILoggerFactory loggerFactory, TimeProvider? time = null)
    {
        var registry = new TargetRegistry(ToLimits(options), time);
        foreach (var s in options.Subsystems)
        {
            registry.AddSubsystem(BuildSubsystem(s, loggerFactory));
        }

        foreach (var p in options.Ports)
        {
            registry.AddPort(ToPortInfo(p));
        }

        ApplyAna(registry, options);

        registry.Authentication = BuildAuthentication(options.DhChap);
        return registry;
    }

    /// <summary>The engine's view of Target:DhChap (validated options: every secret and name parses).</summary>
    public static HostAuthentication BuildAuthentication(DhChapOptions options)
    {
        if (options.Hosts.IsEmpty)
        {
            return HostAuthentication.None;
        }

        var entries = new List<HostAuthenticationEntry>(options.Hosts.Length);
        foreach (var host in options.Hosts)
        {
            var hashes = new List<DhChapHashId>();
            foreach (var name in host.Hashes)
            {
                hashes.Add(DhChapNames.TryParseHash(name, out var hash) ? hash : throw new FormatException($"hash '{name}'"));
            }

            var groups = new List<DhChapGroupId>();
            foreach (var name in host.DhGroups)
            {
                groups.Add(DhChapNames.TryParseGroup(name, out var group) ? group : throw new FormatException($"DH group '{name}'"));
            }

            // The secrets live as long as this snapshot; a transaction transforms and zeroes its own copies.
            string? controller = host.ReadControllerSecret();
            var keys = new DhChapHostKeys(DhChapSecret.Parse(host.ReadSecret()), controller is null ? null : DhChapSecret.Parse(controller), hashes, groups,
                host.SecureConcat);
            entries.Add(new HostAuthenticationEntry(host.HostNqn, host.SubsystemNqn, keys));
        }

        return new HostAuthentication(entries);
    }

    /// <summary>
    /// ANATT and every port's ANA states (unchanged states tell no one; a changed one sends ANA Change notices). The
    /// groups a gateway group manages take the state its leases give (<paramref name="gatewayStates"/>) on every port.
    /// </summary>
    public static void ApplyAna(TargetRegistry registry, TargetOptions options, IReadOnlyDictionary<uint, AnaState>? gatewayStates = null)
    {
        registry.Ana.TransitionTimeSeconds = (byte)options.Ana.TransitionTimeSeconds;
        foreach (var p in options.Ports)
        {
            IReadOnlyDictionary<uint, AnaState> states = p.AnaStates.States;
            if (gatewayStates is { Count: > 0 })
            {
                var merged = new Dictionary<uint, AnaState>(states);
                foreach (var (group, state) in gatewayStates)
                {
                    merged[group] = state;
                }

                states = merged;
            }

            registry.Ana.SetPortStates((ushort)p.Id, states);
        }
    }

    public static TargetPortInfo ToPortInfo(PortOptions p) => new((ushort)p.Id, p.Address, p.Port, p.Tls switch
    {
        TlsMode.Required => PortTlsMode.Required,
        TlsMode.Optional => PortTlsMode.Optional,
        _ => PortTlsMode.None,
    });

    public static PortBinding ToBinding(PortOptions p) => new(
        ToPortInfo(p),
        p.ListenEndPoint,
        p.DiscoveryEndPoint,
        p.Multipath switch
        {
            MultipathMode.Required => MultipathPolicy.Required,
            MultipathMode.Disabled => MultipathPolicy.Disabled,
            _ => MultipathPolicy.Preferred,
        },
        p.NetworkNamespace);

    public static Subsystem BuildSubsystem(SubsystemOptions s, ILoggerFactory loggerFactory)
    {
        var subsystem = new Subsystem(s.Nqn, s.Serial, s.Model, isDiscovery: false, ToAccess(s));
        foreach (var ns in s.Namespaces)
        {
            subsystem.AddNamespace(BuildNamespace(ns, loggerFactory));
        }

        return subsystem;
    }

    public static HostAccess ToAccess(SubsystemOptions s) =>
        s.AllowAnyHost ? HostAccess.Any : new HostAccess(false, new HashSet<string>(s.AllowedHosts, StringComparer.Ordinal));

    public static TargetNamespace BuildNamespace(NamespaceOptions ns, ILoggerFactory loggerFactory)
    {
        var device = BlockDeviceFactory.Open(ns, loggerFactory);
        Span<byte> id = stackalloc byte[16];
        ns.WriteNguid(id);
        var nguid = new Guid(id, bigEndian: true);
        ns.WriteUuid(id);
        var uuid = new Guid(id, bigEndian: true);
        // An RBD image keeps its reservations in its own metadata unless a file is configured.
        IReservationStore? store = ns.ReservationStateFile is { } stateFile ? new FileReservationStore(stateFile)
            : device is RbdBlockDevice rbd ? new RbdReservationStore(rbd, loggerFactory.CreateLogger<RbdReservationStore>()) : null;
        var reservations = store is null ? null : new NamespaceReservations(store);
        if (store is RbdReservationStore shared)
        {
            var report = reservations!.Report(_ => 0xFFFF);
            Log.ReservationsShared(loggerFactory.CreateLogger(typeof(TargetBuilder)), ns.Nsid, shared.ObjectName, reservations.Version, report.Registrants.Count, report.Type);
        }

        return new TargetNamespace(ns.Nsid, device, nguid, uuid, ns.ReadOnly, ns.AnaGroup, reservations);
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 5140, Level = LogLevel.Information, Message = "Namespace {Nsid}: reservations shared with every gateway of the image through rados object {Object}: version {Version}, {Registrants} registrant(s), reservation {Type}")]
        public static partial void ReservationsShared(ILogger logger, uint nsid, string @object, ulong version, int registrants, NvmeMptls.Transport.Nvme.ReservationType type);
    }
}
