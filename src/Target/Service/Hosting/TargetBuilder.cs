using Microsoft.Extensions.Logging;
using NvmeMptls.Target.Configuration;
using NvmeMptls.Target.Namespaces;
using NvmeMptls.Target.Server;
using NvmeMptls.Target.Subsystems;
using NvmeMptls.Transport.Multipath;

namespace NvmeMptls.Target.Hosting;

/// <summary>Turns validated <see cref="TargetOptions"/> into the run-time registry the protocol engine serves.</summary>
public static class TargetBuilder
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
        FirmwareRevision = typeof(TargetBuilder).Assembly.GetName().Version?.ToString(2) ?? "1.0",
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

        return registry;
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
        return new TargetNamespace(ns.Nsid, device, nguid, uuid, ns.ReadOnly);
    }
}
