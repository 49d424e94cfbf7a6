using System.Net;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using NvmeMptls.Target.Configuration;
using NvmeMptls.Target.Hosting;
using NvmeMptls.Target.Namespaces;
using NvmeMptls.Target.Server;
using NvmeMptls.Target.Subsystems;

namespace NvmeMptls.TestKit;

/// <summary>
/// The real target server in-process on a free port of <c>address</c> (loopback by default, optionally inside a
/// network namespace), with memory namespaces (or the <c>backing</c> devices given, e.g. <see cref="FaultyBlockDevice"/>).
/// </summary>
public sealed class LoopbackTarget : IAsyncDisposable
{
    public const string SubsystemNqn = "nqn.2026-01.io.nvmemptls:loopback";

    private LoopbackTarget(NvmeTargetServer server, Subsystem subsystem, int port)
    {
        Server = server;
        Subsystem = subsystem;
        Port = port;
    }

    public NvmeTargetServer Server { get; }
    public Subsystem Subsystem { get; }
    public int Port { get; }
    public IPEndPoint EndPoint => new(IPAddress.Loopback, Port);

    /// <summary>Client options for this target's subsystem over plain TCP on 127.0.0.1; callers add queues, digests, TLS.</summary>
    public NvmeMptls.Initiator.NvmeControllerOptions ClientOptions => NvmeMptls.Initiator.NvmeControllerOptions.Default with
    {
        TargetAddress = "127.0.0.1",
        TargetPort = Port,
        SubsystemNqn = SubsystemNqn,
        Multipath = NvmeMptls.Initiator.NvmeMultipathPolicy.Disabled,
    };

    public static LoopbackTarget Start(long namespaceBytes = 256L << 20, int namespaces = 1, TargetLimits? limits = null,
        MultipathMode multipath = MultipathMode.Preferred, TlsMode tls = TlsMode.None, ConnectionSecurity? security = null,
        ILoggerFactory? loggerFactory = null, string address = "127.0.0.1",
        string? networkNamespace = null, Func<long, IBlockDevice>? backing = null, Func<IBlockDevice, NamespaceReservations>? reservations = null)
    {
        loggerFactory ??= NullLoggerFactory.Instance;
        var registry = new TargetRegistry(limits ?? new TargetLimits());
        var subsystem = new Subsystem(SubsystemNqn, "LOOPBACK0001", "NvmeMptls Loopback", isDiscovery: false, HostAccess.Any);
        for (uint nsid = 1; nsid <= namespaces; nsid++)
        {
            var device = backing?.Invoke(namespaceBytes) ?? new MemoryBlockDevice(namespaceBytes, 512);
            subsystem.AddNamespace(new TargetNamespace(nsid, device, Guid.NewGuid(), Guid.NewGuid(), false, reservations: reservations?.Invoke(device)));
        }

        registry.AddSubsystem(subsystem);
        var server = new NvmeTargetServer(registry, loggerFactory, security);
        server.StartPort(TargetBuilder.ToBinding(new PortOptions { Id = 1, Address = address, Port = 0, DiscoveryPort = null, Multipath = multipath, Tls = tls, NetworkNamespace = networkNamespace }));
        var port = server.Endpoints[0].EndPoint.Port;
        return new LoopbackTarget(server, subsystem, port);
    }

    public async ValueTask DisposeAsync() => await Server.DisposeAsync();
}
