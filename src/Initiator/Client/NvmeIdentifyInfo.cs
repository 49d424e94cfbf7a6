using NvmeMptls.Transport.Nvme;

namespace NvmeMptls.Initiator;

/// <summary>What kind of controller answered (Identify Controller CNTRLTYPE).</summary>
public enum NvmeControllerType
{
    /// <summary>Not reported (NVMe before 1.4).</summary>
    Unspecified = 0,

    /// <summary>An I/O controller: namespaces, reads and writes.</summary>
    Io = 1,

    /// <summary>A discovery controller: the discovery log only.</summary>
    Discovery = 2,

    /// <summary>An administrative controller: no I/O queues.</summary>
    Administrative = 3,
}

/// <summary>The Identify Controller fields (CNS 01h) an application needs; tools read the raw page with <see cref="NvmeController.IdentifyRawAsync"/>.</summary>
/// <param name="VendorId">PCI vendor id (VID).</param>
/// <param name="SerialNumber">Serial number (SN), trimmed.</param>
/// <param name="Model">Model number (MN), trimmed.</param>
/// <param name="FirmwareRevision">Firmware revision (FR), trimmed.</param>
/// <param name="ControllerId">Controller id (CNTLID).</param>
/// <param name="Version">NVMe version (VER): major in bits 31:16, minor in 15:8.</param>
/// <param name="ControllerType">I/O, discovery or administrative (CNTRLTYPE).</param>
/// <param name="MaxDataTransferShift">MDTS: the largest transfer is 2^MDTS minimum pages; 0 = no limit.</param>
/// <param name="MaxCommands">Most commands outstanding per I/O queue (MAXCMD); 0 = not reported.</param>
/// <param name="NamespaceCount">Largest namespace id (NN).</param>
/// <param name="ErrorLogEntries">Entries in the Error Information log (ELPE + 1).</param>
/// <param name="SubsystemNqn">The subsystem's NQN (SUBNQN).</param>
public sealed record NvmeControllerInfo(
    ushort VendorId,
    string SerialNumber,
    string Model,
    string FirmwareRevision,
    ushort ControllerId,
    uint Version,
    NvmeControllerType ControllerType,
    byte MaxDataTransferShift,
    ushort MaxCommands,
    uint NamespaceCount,
    int ErrorLogEntries,
    string SubsystemNqn)
{
    internal static NvmeControllerInfo From(IdentifyController c) => new(
        c.VendorId, c.Serial, c.Model, c.Firmware, c.ControllerId, c.Version, (NvmeControllerType)c.ControllerType,
        c.Mdts, c.MaxCmd, c.NamespaceCount, c.Elpe + 1, c.SubsystemNqn);
}

/// <summary>The Identify Namespace fields (CNS 00h) an application needs. An inactive namespace reads as all zeroes.</summary>
/// <param name="BlockCount">Namespace size in logical blocks (NSZE).</param>
/// <param name="Capacity">Blocks that may be allocated (NCAP).</param>
/// <param name="Utilization">Blocks allocated (NUSE).</param>
/// <param name="LbaSize">
/// Logical block size in bytes, of the formatted LBA format; 0 when the controller reports an LBADS outside 9–20
/// (512 B–1 MiB), which no namespace can be opened with.
/// </param>
/// <param name="WriteProtected">The namespace is write protected (NSATTR bit 0).</param>
/// <param name="Nguid">Namespace globally unique identifier (NGUID); empty when not reported.</param>
public sealed record NvmeNamespaceInfo(ulong BlockCount, ulong Capacity, ulong Utilization, int LbaSize, bool WriteProtected, Guid Nguid)
{
    /// <summary>Smallest and largest LBADS accepted: NVMe Base §5.1.12.2.1 allows no LBA data size below 2^9.</summary>
    internal const int MinLbaShift = 9;
    internal const int MaxLbaShift = 20;

    /// <summary>ANA group of the namespace (ANAGRPID); 0 when the controller reports no ANA.</summary>
    public uint AnaGroupId { get; init; }

    internal static NvmeNamespaceInfo From(IdentifyNamespace n) =>
        new(n.BlockCount, n.Capacity, n.Utilization,
            n.LbaDataSizeShift is >= MinLbaShift and <= MaxLbaShift ? 1 << n.LbaDataSizeShift : 0, n.WriteProtected, n.Nguid)
        {
            AnaGroupId = n.AnaGroupId,
        };
}

/// <summary>One entry of a discovery log page (70h), as <see cref="NvmeDiscovery"/> reads it. Codes are the spec's values.</summary>
/// <param name="TransportType">TRTYPE (3 = TCP).</param>
/// <param name="AddressFamily">ADRFAM (1 = IPv4, 2 = IPv6).</param>
/// <param name="SubsystemType">SUBTYPE (1 = referral, 2 = NVM subsystem, 3 = this discovery controller).</param>
/// <param name="TransportRequirements">TREQ (bits 1:0 secure channel: 1 required, 2 not required; bit 2 SQ flow control disable).</param>
/// <param name="PortId">Port id (PORTID).</param>
/// <param name="ControllerId">Controller id (CNTLID; 0xFFFF = dynamic).</param>
/// <param name="AdminMaxSqSize">Largest admin submission queue (ASQSZ).</param>
/// <param name="TransportServiceId">Port number as text (TRSVCID).</param>
/// <param name="SubsystemNqn">The subsystem's NQN (SUBNQN).</param>
/// <param name="TransportAddress">Address as text (TRADDR).</param>
/// <param name="SecurityType">TSAS SECTYPE (0 = none, 2 = TLS 1.3).</param>
public sealed record NvmeDiscoveryEntry(
    byte TransportType,
    byte AddressFamily,
    byte SubsystemType,
    byte TransportRequirements,
    ushort PortId,
    ushort ControllerId,
    ushort AdminMaxSqSize,
    string TransportServiceId,
    string SubsystemNqn,
    string TransportAddress,
    byte SecurityType)
{
    internal static NvmeDiscoveryEntry From(DiscoveryLogEntry e) => new(
        e.TransportType, e.AddressFamily, e.SubsystemType, e.TransportRequirements, e.PortId, e.ControllerId,
        e.AdminMaxSqSize, e.TransportServiceId, e.SubsystemNqn, e.TransportAddress, e.SecurityType);
}
