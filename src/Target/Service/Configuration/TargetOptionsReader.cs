using System.Collections.Immutable;
using System.Globalization;
using Microsoft.Extensions.Configuration;

namespace NvmeMptls.Target.Configuration;

/// <summary>
/// Turns the "Target" section of an <see cref="IConfiguration"/> into <see cref="TargetOptions"/>, reporting every
/// value that does not parse as "KEY: must be ... (was ...)". A bad value is replaced by its default so reading
/// goes on and all mistakes are reported at once; cross-field rules are <see cref="TargetOptionsValidator"/>'s.
/// Lists (Subsystems, Ports) that are absent take the built-in default; present but empty, they stay empty.
/// </summary>
internal sealed class TargetOptionsReader
{
    private readonly List<string> _errors;

    private TargetOptionsReader(List<string> errors) => _errors = errors;

    public static TargetOptions Read(IConfiguration configuration, List<string> errors)
    {
        var reader = new TargetOptionsReader(errors);
        return reader.ReadTarget(configuration.GetSection(TargetOptions.SectionName));
    }

    private TargetOptions ReadTarget(IConfigurationSection target)
    {
        var defaults = new TargetOptions();
        IConfigurationSection subsystems = target.GetSection("Subsystems");
        IConfigurationSection ports = target.GetSection("Ports");
        return new TargetOptions
        {
            Subsystems = subsystems.Exists() ? ReadList(subsystems, ReadSubsystem) : defaults.Subsystems,
            Ports = ports.Exists() ? ReadList(ports, ReadPort) : defaults.Ports,
            Tls = ReadTls(target.GetSection("Tls")),
            DhChap = new DhChapOptions { Hosts = ReadList(target.GetSection("DhChap").GetSection("Hosts"), ReadDhChapHost) },
            Limits = ReadLimits(target.GetSection("Limits")),
            KeepAlive = new KeepAliveOptions
            {
                DiscoveryDefaultTimeout = Duration(target.GetSection("KeepAlive"), "DiscoveryDefaultTimeout", defaults.KeepAlive.DiscoveryDefaultTimeout),
            },
            Timeouts = new TimeoutOptions
            {
                IcReq = Duration(target.GetSection("Timeouts"), "IcReq", defaults.Timeouts.IcReq),
                Connect = Duration(target.GetSection("Timeouts"), "Connect", defaults.Timeouts.Connect),
                Data = Duration(target.GetSection("Timeouts"), "Data", defaults.Timeouts.Data),
                SendStall = Duration(target.GetSection("Timeouts"), "SendStall", defaults.Timeouts.SendStall),
            },
            Metrics = ReadMetrics(target.GetSection("Metrics")),
            Ana = new AnaOptions
            {
                TransitionTimeSeconds = Int(target.GetSection("Ana"), "TransitionTimeSeconds", defaults.Ana.TransitionTimeSeconds),
            },
            Gateway = GatewayOptions.Read(target, _errors),
            ShutdownGracePeriod = Duration(target, "ShutdownGracePeriod", defaults.ShutdownGracePeriod),
            SendMode = Choice(target, "SendMode", defaults.SendMode, s_sendMode),
            ReceivePollMicroseconds = Int(target, "ReceivePollMicroseconds", defaults.ReceivePollMicroseconds),
        };
    }

    private SubsystemOptions ReadSubsystem(IConfigurationSection section, int index)
    {
        var defaults = new SubsystemOptions();
        ImmutableArray<string> hosts = ReadList(section.GetSection("AllowedHosts"), (item, _) => item.Value ?? "");
        return new SubsystemOptions
        {
            Nqn = Text(section, "Nqn") ?? "",
            Serial = Text(section, "Serial") ?? "",
            Model = Text(section, "Model") ?? defaults.Model,

            // Listing hosts without saying otherwise means "only these".
            AllowAnyHost = Bool(section, "AllowAnyHost", hosts.IsEmpty),
            AllowedHosts = hosts,
            Namespaces = ReadList(section.GetSection("Namespaces"), ReadNamespace),
        };
    }

    private NamespaceOptions ReadNamespace(IConfigurationSection section, int index)
    {
        NamespaceBacking backing = Choice(section, "Backing", NamespaceBacking.Memory, s_backings);
        var ns = new NamespaceOptions
        {
            Nsid = UInt(section, "Nsid", (uint)index + 1),
            Backing = backing,
            Path = Text(section, "Path"),
            SizeBytes = Size(section, "Size"),
            LbaSize = Int(section, "LbaSize", 512),
            IoEngine = Choice(section, "IoEngine", Namespaces.IoEngine.IoUring, s_ioEngines),
            ReadOnly = Bool(section, "ReadOnly", false),
            AnaGroup = UInt(section, "AnaGroup", 1),
            ReservationStateFile = Text(section, "ReservationStateFile"),
            Rbd = RbdOptions.Read(section, _errors),
        };

        string? nguid = Text(section, "Nguid");
        if (nguid is not null)
        {
            if (NamespaceIdentifiers.TryParseNguid(nguid, out UInt128 value))
            {
                ns = ns with { Nguid = value };
            }
            else
            {
                Error(section, "Nguid", $"must be 32 hex digits and not all zero (was '{nguid}')");
            }
        }

        string? uuid = Text(section, "Uuid");
        if (uuid is not null)
        {
            if (NamespaceIdentifiers.TryParseUuid(uuid, out Guid value))
            {
                ns = ns with { Uuid = value };
            }
            else
            {
                Error(section, "Uuid", $"must be a UUID such as 3f2504e0-4f89-41d3-9a0c-0305e82c3301, not nil (was '{uuid}')");
            }
        }

        return ns;
    }

    private PortOptions ReadPort(IConfigurationSection section, int index)
    {
        var defaults = new PortOptions();
        int discovery = Int(section, "DiscoveryPort", 0);
        return new PortOptions
        {
            Id = Int(section, "Id", index + 1),
            Address = Text(section, "Address") ?? defaults.Address,
            Port = Int(section, "Port", defaults.Port),

            // In a configured port an absent (or 0) DiscoveryPort means no discovery listener of its own.
            DiscoveryPort = discovery == 0 ? null : discovery,
            DiscoveryAddress = Text(section, "DiscoveryAddress"),
            Multipath = Choice(section, "Multipath", defaults.Multipath, s_multipath),
            ExpectedPaths = Int(section, "ExpectedPaths", defaults.ExpectedPaths),
            Tls = Choice(section, "Tls", defaults.Tls, s_tls),
            AnaStates = ReadAnaStates(section.GetSection("AnaStates")),
        };
    }

    /// <summary>"AnaStates": { "GROUP": "STATE", ... }: group ids are checked for range by the validator.</summary>
    private AnaStateMap ReadAnaStates(IConfigurationSection section)
    {
        var states = System.Collections.Immutable.ImmutableSortedDictionary.CreateBuilder<uint, Transport.Nvme.AnaState>();
        foreach (IConfigurationSection child in section.GetChildren())
        {
            if (!uint.TryParse(child.Key, NumberStyles.None, CultureInfo.InvariantCulture, out uint group))
            {
                _errors.Add($"{child.Path}: the key must be an ANA group id from 1 to {Subsystems.AnaGroups.MaxGroupId} (was '{child.Key}')");
                continue;
            }

            if (!Transport.Nvme.AnaStates.TryParse(child.Value?.Trim(), out var state))
            {
                _errors.Add($"{child.Path}: must be one of optimized, non-optimized, inaccessible, persistent-loss, change (was '{child.Value}')");
                continue;
            }

            states[group] = state;
        }

        return states.Count == 0 ? AnaStateMap.Empty : new AnaStateMap(states.ToImmutable());
    }

    private TlsOptions ReadTls(IConfigurationSection section)
    {
        var defaults = new TlsOptions();
        return new TlsOptions
        {
            Keys = ReadList(section.GetSection("Keys"), ReadKey),
            HandshakeTimeout = Duration(section, "HandshakeTimeout", defaults.HandshakeTimeout),
            KeyUpdate = Choice(section, "KeyUpdate", defaults.KeyUpdate, s_keyUpdate),
            KeyLogFile = Text(section, "KeyLogFile"),
        };
    }

    private TlsKeyOptions ReadKey(IConfigurationSection section, int index)
    {
        // "Keys": [ "NVMeTLSkey-1:..." ] is accepted as shorthand for [ { "Key": "..." } ].
        if (!section.GetChildren().Any())
        {
            return new TlsKeyOptions { Key = string.IsNullOrWhiteSpace(section.Value) ? null : section.Value.Trim() };
        }

        return new TlsKeyOptions
        {
            Key = Text(section, "Key"),
            KeyFile = Text(section, "KeyFile"),
            HostNqn = Text(section, "HostNqn"),
            SubsystemNqn = Text(section, "SubsystemNqn"),
            V0Compat = Text(section, "V0Compat") is null ? null : Bool(section, "V0Compat", false),
        };
    }

    private DhChapHostOptions ReadDhChapHost(IConfigurationSection section, int index) => new()
    {
        HostNqn = Text(section, "HostNqn"),
        SubsystemNqn = Text(section, "SubsystemNqn"),
        Secret = Text(section, "Secret"),
        SecretFile = Text(section, "SecretFile"),
        ControllerSecret = Text(section, "ControllerSecret"),
        ControllerSecretFile = Text(section, "ControllerSecretFile"),
        Hashes = ReadList(section.GetSection("Hashes"), (item, _) => item.Value ?? ""),
        DhGroups = ReadList(section.GetSection("DhGroups"), (item, _) => item.Value ?? ""),
        SecureConcat = Bool(section, "SecureConcat", false),
    };

    private LimitsOptions ReadLimits(IConfigurationSection section)
    {
        var defaults = new LimitsOptions();
        return new LimitsOptions
        {
            MaxIoQueues = Int(section, "MaxIoQueues", defaults.MaxIoQueues),
            MaxQueueSize = Int(section, "MaxQueueSize", defaults.MaxQueueSize),
            InCapsuleDataSize = SizeInt(section, "InCapsuleDataSize", defaults.InCapsuleDataSize),
            MaxH2CData = SizeInt(section, "MaxH2CData", defaults.MaxH2CData),
            MaxDataTransferSize = SizeInt(section, "MaxDataTransferSize", defaults.MaxDataTransferSize),
            MaxBufferedBytes = Size(section, "MaxBufferedBytes") ?? defaults.MaxBufferedBytes,
            MaxConnectionBufferedBytes = Size(section, "MaxConnectionBufferedBytes") ?? defaults.MaxConnectionBufferedBytes,
            MaxOutstandingR2T = Int(section, "MaxOutstandingR2T", defaults.MaxOutstandingR2T),
            BufferIdleTrim = Duration(section, "BufferIdleTrim", defaults.BufferIdleTrim),
            MaxConnections = Int(section, "MaxConnections", defaults.MaxConnections),
            MaxConnectionsPerAddress = Int(section, "MaxConnectionsPerAddress", defaults.MaxConnectionsPerAddress),
            MaxConnectionsPerHost = Int(section, "MaxConnectionsPerHost", defaults.MaxConnectionsPerHost),
            MaxControllersPerHost = Int(section, "MaxControllersPerHost", defaults.MaxControllersPerHost),
        };
    }

    private MetricsOptions ReadMetrics(IConfigurationSection section)
    {
        var defaults = new MetricsOptions();
        return new MetricsOptions
        {
            Enabled = Bool(section, "Enabled", defaults.Enabled),
            Url = Text(section, "Url") ?? defaults.Url,
        };
    }

    private static ImmutableArray<T> ReadList<T>(IConfigurationSection section, Func<IConfigurationSection, int, T> read)
    {
        var items = ImmutableArray.CreateBuilder<T>();
        foreach (IConfigurationSection child in section.GetChildren())
        {
            items.Add(read(child, items.Count));
        }

        return items.ToImmutable();
    }

    private static string? Text(IConfigurationSection section, string key)
    {
        string? value = section[key];
        return string.IsNullOrWhiteSpace(value) ? null : value.Trim();
    }

    private int Int(IConfigurationSection section, string key, int fallback)
    {
        string? text = Text(section, key);
        if (text is null)
        {
            return fallback;
        }

        if (int.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out int value))
        {
            return value;
        }

        Error(section, key, $"must be a whole number (was '{text}')");
        return fallback;
    }

    private uint UInt(IConfigurationSection section, string key, uint fallback)
    {
        string? text = Text(section, key);
        if (text is null)
        {
            return fallback;
        }

        bool ok = text.StartsWith("0x", StringComparison.OrdinalIgnoreCase)
            ? uint.TryParse(text.AsSpan(2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out uint value)
            : uint.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out value);
        if (ok)
        {
            return value;
        }

        Error(section, key, $"must be a whole number from 1 to 4294967294 (was '{text}')");
        return fallback;
    }

    private int SizeInt(IConfigurationSection section, string key, int fallback)
    {
        string? text = Text(section, key);
        if (text is null)
        {
            return fallback;
        }

        if (ByteSize.TryParse(text, out long value) && value <= int.MaxValue)
        {
            return (int)value;
        }

        Error(section, key, $"must be a byte count below 2GiB such as 16384 or 128KiB (was '{text}')");
        return fallback;
    }

    private long? Size(IConfigurationSection section, string key)
    {
        string? text = Text(section, key);
        if (text is null)
        {
            return null;
        }

        if (ByteSize.TryParse(text, out long value))
        {
            return value;
        }

        Error(section, key, $"must be a size such as 4096, 512MiB, 1GiB or 1G (binary units) (was '{text}')");
        return null;
    }

    private bool Bool(IConfigurationSection section, string key, bool fallback)
    {
        string? text = Text(section, key);
        if (text is null)
        {
            return fallback;
        }

        if (bool.TryParse(text, out bool value))
        {
            return value;
        }

        Error(section, key, $"must be true or false (was '{text}')");
        return fallback;
    }

    private TimeSpan Duration(IConfigurationSection section, string key, TimeSpan fallback)
    {
        string? text = Text(section, key);
        if (text is null)
        {
            return fallback;
        }

        if (TimeSpan.TryParse(text, CultureInfo.InvariantCulture, out TimeSpan value))
        {
            return value;
        }

        Error(section, key, $"must be a duration written hh:mm:ss such as 00:00:10 (was '{text}')");
        return fallback;
    }

    private T Choice<T>(IConfigurationSection section, string key, T fallback, (string Name, T Value)[] choices)
    {
        string? text = Text(section, key);
        if (text is null)
        {
            return fallback;
        }

        foreach ((string name, T value) in choices)
        {
            if (string.Equals(name, text, StringComparison.OrdinalIgnoreCase))
            {
                return value;
            }
        }

        Error(section, key, $"must be one of {string.Join(", ", choices.Select(c => c.Name))} (was '{text}')");
        return fallback;
    }

    private void Error(IConfigurationSection section, string key, string message) =>
        _errors.Add($"{section.Path}:{key}: {message}");

    internal static readonly (string Name, NamespaceBacking Value)[] s_backings =
        [("memory", NamespaceBacking.Memory), ("file", NamespaceBacking.File), ("block", NamespaceBacking.Block), ("rbd", NamespaceBacking.Rbd)];

    internal static readonly (string Name, Namespaces.IoEngine Value)[] s_ioEngines =
        [("io_uring", Namespaces.IoEngine.IoUring), ("positional", Namespaces.IoEngine.Positional)];

    internal static readonly (string Name, MultipathMode Value)[] s_multipath =
        [("preferred", MultipathMode.Preferred), ("required", MultipathMode.Required), ("disabled", MultipathMode.Disabled)];

    internal static readonly (string Name, Tcp.QueueSendMode Value)[] s_sendMode =
        [("burst", Tcp.QueueSendMode.Burst), ("loop", Tcp.QueueSendMode.Loop)];

    internal static readonly (string Name, TlsMode Value)[] s_tls =
        [("none", TlsMode.None), ("optional", TlsMode.Optional), ("required", TlsMode.Required)];

    internal static readonly (string Name, KeyUpdateMode Value)[] s_keyUpdate =
        [("reconnect", KeyUpdateMode.Reconnect), ("keyupdate", KeyUpdateMode.KeyUpdate), ("none", KeyUpdateMode.None)];
}
