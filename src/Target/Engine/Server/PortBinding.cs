using System.Net;
using NvmeMptls.Target.Subsystems;
using NvmeMptls.Transport.Multipath;

namespace NvmeMptls.Target.Server;

/// <summary>
/// Where a port listens: its I/O endpoint, an optional discovery endpoint (served by the same port id, not listed in
/// the discovery log), the MPTCP policy and an optional network namespace to bind in.
/// </summary>
public sealed record PortBinding(
    TargetPortInfo Info,
    IPEndPoint ListenEndPoint,
    IPEndPoint? DiscoveryEndPoint = null,
    MultipathPolicy Multipath = MultipathPolicy.Preferred,
    string? NetworkNamespace = null);
