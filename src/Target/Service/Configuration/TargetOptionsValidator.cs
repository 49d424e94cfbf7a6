using System.Globalization;
using System.Net;
using NvmeMptls.Transport.Nvme;
using NvmeMptls.Transport.Sockets;

namespace NvmeMptls.Target.Configuration;

/// <summary>
/// Every rule that spans more than one value, run on resolved options. Each message starts with the
/// configuration key it is about and says which values are accepted, and all of them are collected.
/// </summary>
internal static partial class TargetOptionsValidator
{
    private const string Root = TargetOptions.SectionName;

    public static void Validate(TargetOptions options, List<string> errors)
    {
        ValidateSubsystems(options, errors);
        ValidatePorts(options, errors);
        ValidateTls(options, errors);
        ValidateDhChap(options, errors);
        ValidateLimits(options.Limits, errors);
        ValidateAna(options, errors);
        ValidateGateway(options, errors);

        var maxPoll = (int)SocketConnectionOptions.MaxReceivePoll.TotalMicroseconds;
        if (options.ReceivePollMicroseconds < 0 || options.ReceivePollMicroseconds > maxPoll)
        {
            errors.Add($"{Root}:ReceivePollMicroseconds: must be from 0 (off) to {maxPoll} microseconds (was {options.ReceivePollMicroseconds})");
        }

        if (options.KeepAlive.DiscoveryDefaultTimeout <= TimeSpan.Zero)
        {
            errors.Add($"{Root}:KeepAlive:DiscoveryDefaultTimeout: must be greater than zero (was {options.KeepAlive.DiscoveryDefaultTimeout})");
        }

        if (options.Timeouts.IcReq <= TimeSpan.Zero)
        {
            errors.Add($"{Root}:Timeouts:IcReq: must be greater than zero (was {options.Timeouts.IcReq})");
        }

        if (options.Timeouts.Connect <= TimeSpan.Zero)
        {
            errors.Add($"{Root}:Timeouts:Connect: must be greater than zero (was {options.Timeouts.Connect})");
        }

        if (options.Timeouts.Data <= TimeSpan.Zero)
        {
            errors.Add($"{Root}:Timeouts:Data: must be greater than zero (was {options.Timeouts.Data})");
        }

        if (options.Timeouts.SendStall <= TimeSpan.Zero)
        {
            errors.Add($"{Root}:Timeouts:SendStall: must be greater than zero (was {options.Timeouts.SendStall})");
        }

        if (options.Metrics.Enabled && !IsMetricsUrl(options.Metrics.Url))
        {
            errors.Add($"{Root}:Metrics:Url: must be an absolute http:// or https:// URL such as http://127.0.0.1:9464/metrics (was '{options.Metrics.Url}')");
        }

        if (options.ShutdownGracePeriod < TimeSpan.Zero)
        {
            errors.Add($"{Root}:ShutdownGracePeriod: must not be negative (was {options.ShutdownGracePeriod})");
        }
    }

    private static void ValidateSubsystems(TargetOptions options, List<string> errors)
    {
        if (options.Subsystems.IsEmpty)
        {
            errors.Add($"{Root}:Subsystems: at least one subsystem is required");
        }

        var nqns = new Dictionary<string, string>(StringComparer.Ordinal);
        var nguids = new Dictionary<UInt128, string>();
        var uuids = new Dictionary<Guid, string>();
        for (int s = 0; s < options.Subsystems.Length; s++)
        {
            SubsystemOptions subsystem = options.Subsystems[s];
            string key = $"{Root}:Subsystems:{s}";
            if (subsystem.Nqn == WellKnownNqns.Discovery)
            {
                errors.Add($"{key}:Nqn: {WellKnownNqns.Discovery} is the discovery subsystem and cannot be configured");
            }
            else if (Nqn.Check(subsystem.Nqn) is { } nqnProblem)
            {
                errors.Add($"{key}:Nqn: {nqnProblem}");
            }
            else if (!nqns.TryAdd(subsystem.Nqn, key + ":Nqn"))
            {
                errors.Add($"{key}:Nqn: duplicate of {nqns[subsystem.Nqn]} ('{subsystem.Nqn}')");
            }

            CheckAscii(subsystem.Serial, 20, $"{key}:Serial", errors);
            CheckAscii(subsystem.Model, 40, $"{key}:Model", errors);
            for (int h = 0; h < subsystem.AllowedHosts.Length; h++)
            {
                if (Nqn.Check(subsystem.AllowedHosts[h]) is { } hostProblem)
                {
                    errors.Add($"{key}:AllowedHosts:{h}: {hostProblem}");
                }
            }

            if (!subsystem.AllowAnyHost && subsystem.AllowedHosts.IsEmpty)
            {
                errors.Add($"{key}:AllowedHosts: must list at least one host NQN when AllowAnyHost is false");
            }

            ValidateNamespaces(subsystem, key, nguids, uuids, errors);
        }
    }

    private static void ValidateNamespaces(SubsystemOptions subsystem, string subsystemKey, Dictionary<UInt128, string> nguids, Dictionary<Guid, string> uuids, List<string> errors)
    {
        var nsids = new Dictionary<uint, string>();
        for (int n = 0; n < subsystem.Namespaces.Length; n++)
        {
            NamespaceOptions ns = subsystem.Namespaces[n];
            string key = $"{subsystemKey}:Namespaces:{n}";

            // NSID 0 is never valid and FFFFFFFFh means "all namespaces" (NVMe Base §3.2.1).
            if (ns.Nsid is 0 or uint.MaxValue)
            {
                errors.Add($"{key}:Nsid: must be between 1 and 4294967294 (was {ns.Nsid})");
            }
            else if (!nsids.TryAdd(ns.Nsid, key + ":Nsid"))
            {
                errors.Add($"{key}:Nsid: duplicate of {nsids[ns.Nsid]} (NSID {ns.Nsid}) in subsystem {subsystem.Nqn}");
            }

            if (ns.Backing is not (NamespaceBacking.Memory or NamespaceBacking.File or NamespaceBacking.Block or NamespaceBacking.Rbd))
            {
                errors.Add($"{key}:Backing: must be one of memory, file, block, rbd (was {(int)ns.Backing})");
            }

            RbdOptions.Validate(ns, key, errors);

            if (ns.Backing is NamespaceBacking.File or NamespaceBacking.Block && string.IsNullOrWhiteSpace(ns.Path))
            {
                errors.Add($"{key}:Path: is required for {ns.Backing.ToString().ToLowerInvariant()} backing");
            }

            if (ns.IoEngine is not (Namespaces.IoEngine.IoUring or Namespaces.IoEngine.Positional))
            {
                errors.Add($"{key}:IoEngine: must be io_uring or positional (was {(int)ns.IoEngine})");
            }
            else if (ns.IoEngine == Namespaces.IoEngine.Positional && ns.Backing is not (NamespaceBacking.File or NamespaceBacking.Block))
            {
                errors.Add($"{key}:IoEngine: positional applies to file and block backing only, not {ns.Backing.ToString().ToLowerInvariant()}");
            }

            bool lbaOk = ns.LbaSize is 512 or 4096;
            if (!lbaOk)
            {
                errors.Add($"{key}:LbaSize: must be 512 or 4096 (was {ns.LbaSize})");
            }

            if (ns.SizeBytes is null)
            {
                if (ns.Backing == NamespaceBacking.Memory)
                {
                    errors.Add($"{key}:Size: is required for memory backing (e.g. 1GiB)");
                }
            }
            else if (ns.SizeBytes <= 0)
            {
                errors.Add($"{key}:Size: must be greater than zero (was {ns.SizeBytes})");
            }
            else if (lbaOk && ns.SizeBytes % ns.LbaSize != 0)
            {
                errors.Add($"{key}:Size: must be a multiple of LbaSize {ns.LbaSize} (was {ns.SizeBytes} bytes)");
            }

            // The Linux host drops namespaces whose identifiers collide (nvme-tcp.md §3.4), across subsystems too.
            if (!nguids.TryAdd(ns.Nguid, key + ":Nguid"))
            {
                errors.Add($"{key}:Nguid: {NamespaceIdentifiers.FormatNguid(ns.Nguid)} is also used by {nguids[ns.Nguid]}; NGUIDs must be unique");
            }

            if (!uuids.TryAdd(ns.Uuid, key + ":Uuid"))
            {
                errors.Add($"{key}:Uuid: {ns.Uuid} is also used by {uuids[ns.Uuid]}; UUIDs must be unique");
            }
        }
    }

    private static void ValidatePorts(TargetOptions options, List<string> errors)
    {
        if (options.Ports.IsEmpty)
        {
            errors.Add($"{Root}:Ports: at least one port is required");
        }

        var ids = new Dictionary<int, string>();
        var endpoints = new Dictionary<string, string>(StringComparer.Ordinal);
        for (int p = 0; p < options.Ports.Length; p++)
        {
            PortOptions port = options.Ports[p];
            string key = $"{Root}:Ports:{p}";
            if (port.Id is < 1 or > 65535)
            {
                errors.Add($"{key}:Id: must be between 1 and 65535 (was {port.Id})");
            }
            else if (!ids.TryAdd(port.Id, key + ":Id"))
            {
                errors.Add($"{key}:Id: duplicate of {ids[port.Id]} (Id {port.Id})");
            }

            bool addressOk = CheckAddress(port.Address, $"{key}:Address", errors);
            CheckEndpoint(addressOk, port.Address, port.Port, $"{key}:Port", endpoints, errors);
            if (port.DiscoveryPort is { } discovery)
            {
                string discoveryAddress = port.DiscoveryAddress ?? port.Address;
                bool discoveryAddressOk = port.DiscoveryAddress is null ? addressOk : CheckAddress(discoveryAddress, $"{key}:DiscoveryAddress", errors);
                CheckEndpoint(discoveryAddressOk, discoveryAddress, discovery, $"{key}:DiscoveryPort", endpoints, errors);
            }

            if (!Enum.IsDefined(port.Multipath))
            {
                errors.Add($"{key}:Multipath: must be one of preferred, required, disabled (was {(int)port.Multipath})");
            }

            if (port.ExpectedPaths is < 1 or > 8)
            {
                errors.Add($"{key}:ExpectedPaths: must be 1..8 (was {port.ExpectedPaths})");
            }

            if (!Enum.IsDefined(port.Tls))
            {
                errors.Add($"{key}:Tls: must be one of none, optional, required (was {(int)port.Tls})");
            }
            else if (port.Tls == TlsMode.Required && options.Tls.Keys.IsEmpty)
            {
                errors.Add($"{key}:Tls: is 'required' but {Root}:Tls:Keys is empty; configure at least one PSK or use 'none' / 'optional'");
            }
        }
    }

    private static void ValidateTls(TargetOptions options, List<string> errors)
    {
        TlsOptions tls = options.Tls;
        for (int k = 0; k < tls.Keys.Length; k++)
        {
            TlsKeyOptions entry = tls.Keys[k];
            string key = $"{Root}:Tls:Keys:{k}";
            if ((entry.Key is null) == (entry.KeyFile is null))
            {
                errors.Add($"{key}: set exactly one of Key (the NVMeTLSkey-1:... string) or KeyFile (a file holding it)");
            }
            else if (entry.Key is not null)
            {
                if (TlsKeyFormat.Check(entry.Key) is { } problem)
                {
                    errors.Add($"{key}:Key: {problem}");
                }
            }
            else if (!File.Exists(entry.KeyFile))
            {
                errors.Add($"{key}:KeyFile: file '{entry.KeyFile}' does not exist");
            }
            else if (KeyFilePermissions.Problem(entry.KeyFile!) is { } modeProblem)
            {
                errors.Add($"{key}:KeyFile: '{entry.KeyFile}' {modeProblem}");
            }
            else if (TlsKeyFormat.Check(entry.ReadKey()) is { } problem)
            {
                errors.Add($"{key}:KeyFile: contents of '{entry.KeyFile}' {problem}");
            }

            if (entry.HostNqn is not null && Nqn.Check(entry.HostNqn) is { } hostProblem)
            {
                errors.Add($"{key}:HostNqn: {hostProblem}");
            }

            if (entry.SubsystemNqn is not null && !options.Subsystems.Any(s => s.Nqn == entry.SubsystemNqn))
            {
                errors.Add($"{key}:SubsystemNqn: must name a configured subsystem (was '{entry.SubsystemNqn}')");
            }
        }

        if (tls.HandshakeTimeout <= TimeSpan.Zero)
        {
            errors.Add($"{Root}:Tls:HandshakeTimeout: must be greater than zero (was {tls.HandshakeTimeout})");
        }

        if (!Enum.IsDefined(tls.KeyUpdate))
        {
            errors.Add($"{Root}:Tls:KeyUpdate: must be one of reconnect, keyupdate, none (was {(int)tls.KeyUpdate})");
        }
    }

    private static void ValidateLimits(LimitsOptions limits, List<string> errors)
    {
        const string key = Root + ":Limits";
        if (limits.MaxIoQueues is < 1 or > 65535)
        {
            errors.Add($"{key}:MaxIoQueues: must be between 1 and 65535 (was {limits.MaxIoQueues})");
        }

        // CAP.MQES is 0's based in 16 bits and a queue needs at least two entries.
        if (limits.MaxQueueSize is < 2 or > 65536)
        {
            errors.Add($"{key}:MaxQueueSize: must be between 2 and 65536 (was {limits.MaxQueueSize})");
        }

        // IOCCSZ counts 16-byte units, so in-capsule data must be a multiple of 16.
        if (limits.InCapsuleDataSize < 0 || limits.InCapsuleDataSize > (1 << 20) || limits.InCapsuleDataSize % 16 != 0)
        {
            errors.Add($"{key}:InCapsuleDataSize: must be a multiple of 16 from 0 to 1048576 (was {limits.InCapsuleDataSize})");
        }

        // NVMe/TCP: MAXH2CDATA shall be at least 4096.
        if (limits.MaxH2CData < 4096)
        {
            errors.Add($"{key}:MaxH2CData: must be at least 4096 (was {limits.MaxH2CData})");
        }

        // MDTS is a power of two in units of the 4 KiB minimum page size.
        if (limits.MaxDataTransferSize < 4096 || (limits.MaxDataTransferSize & (limits.MaxDataTransferSize - 1)) != 0)
        {
            errors.Add($"{key}:MaxDataTransferSize: must be a power of two of at least 4096 (was {limits.MaxDataTransferSize})");
        }

        // A connection's budget must hold one largest transfer, and the process's one connection's budget.
        if (limits.MaxConnectionBufferedBytes < limits.MaxDataTransferSize)
        {
            errors.Add($"{key}:MaxConnectionBufferedBytes: must be at least MaxDataTransferSize ({limits.MaxDataTransferSize}) (was {limits.MaxConnectionBufferedBytes})");
        }

        if (limits.MaxBufferedBytes < limits.MaxConnectionBufferedBytes)
        {
            errors.Add($"{key}:MaxBufferedBytes: must be at least MaxConnectionBufferedBytes ({limits.MaxConnectionBufferedBytes}) (was {limits.MaxBufferedBytes})");
        }

        if (limits.BufferIdleTrim <= TimeSpan.Zero)
        {
            errors.Add($"{key}:BufferIdleTrim: must be greater than zero (was {limits.BufferIdleTrim})");
        }

        Positive(limits.MaxOutstandingR2T, $"{key}:MaxOutstandingR2T", errors);
        Positive(limits.MaxConnections, $"{key}:MaxConnections", errors);
        Positive(limits.MaxConnectionsPerAddress, $"{key}:MaxConnectionsPerAddress", errors);

        // A host needs its admin queue and one I/O queue, and a discovery controller beside its I/O controller.
        if (limits.MaxConnectionsPerHost < 2)
        {
            errors.Add($"{key}:MaxConnectionsPerHost: must be at least 2 (was {limits.MaxConnectionsPerHost})");
        }

        if (limits.MaxControllersPerHost < 2)
        {
            errors.Add($"{key}:MaxControllersPerHost: must be at least 2 (was {limits.MaxControllersPerHost})");
        }
    }

    private static void Positive(int value, string key, List<string> errors)
    {
        if (value < 1)
        {
            errors.Add($"{key}: must be at least 1 (was {value})");
        }
    }

    private static bool CheckAddress(string address, string key, List<string> errors)
    {
        if (IPAddress.TryParse(address, out _))
        {
            return true;
        }

        errors.Add($"{key}: must be an IPv4 or IPv6 address such as 127.0.0.1, 0.0.0.0 or :: (was '{address}')");
        return false;
    }

    private static void CheckEndpoint(bool addressOk, string address, int port, string key, Dictionary<string, string> endpoints, List<string> errors)
    {
        if (port is < 1 or > 65535)
        {
            errors.Add($"{key}: must be between 1 and 65535 (was {port})");
            return;
        }

        if (!addressOk)
        {
            return;
        }

        string endpoint = new IPEndPoint(IPAddress.Parse(address), port).ToString();
        if (!endpoints.TryAdd(endpoint, key))
        {
            errors.Add($"{key}: {endpoint} is already used by {endpoints[endpoint]}");
        }
    }

    private static void CheckAscii(string value, int maxLength, string key, List<string> errors)
    {
        bool printable = value.Length > 0;
        foreach (char c in value)
        {
            printable &= c is >= ' ' and <= '~';
        }

        if (!printable || value.Length > maxLength)
        {
            errors.Add($"{key}: must be 1 to {maxLength.ToString(CultureInfo.InvariantCulture)} printable ASCII characters (was '{value}')");
        }
    }

    private static bool IsMetricsUrl(string url) =>
        Uri.TryCreate(url, UriKind.Absolute, out Uri? uri)
        && (uri.Scheme == Uri.UriSchemeHttp || uri.Scheme == Uri.UriSchemeHttps)
        && !string.IsNullOrEmpty(uri.Host);
}
