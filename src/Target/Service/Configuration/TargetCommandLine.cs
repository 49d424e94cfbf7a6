using System.Collections;
using System.Collections.Immutable;
using System.Globalization;
using System.Net;
using Microsoft.Extensions.Configuration;

namespace NvmeMptls.Target.Configuration;

/// <summary>The outcome of <see cref="TargetCommandLine.Parse(string[])"/>.</summary>
public sealed record TargetCommandLineResult
{
    /// <summary>The validated options; null when help was asked for or there were errors.</summary>
    public TargetOptions? Options { get; init; }

    public bool HelpRequested { get; init; }

    /// <summary>Every problem found, each naming its flag or configuration key.</summary>
    public ImmutableArray<string> Errors { get; init; } = [];

    public bool Succeeded => Options is not null;

    /// <summary>The configuration sources (appsettings.json, --config, environment) without the flags; null on early errors.</summary>
    public IConfiguration? Configuration { get; init; }

    /// <summary>The flags as an override, for <see cref="TargetConfiguration.AddTargetOptions"/> with <see cref="Configuration"/>.</summary>
    public Func<TargetOptions, TargetOptions> ApplyFlags { get; init; } = static o => o;
}

/// <summary>
/// Quick-start flags on top of the built-in default. Precedence, lowest first: built-in default, appsettings.json
/// beside the binary, --config FILE, NVMEMPTLS_Target__... environment variables, flags.
/// </summary>
public static class TargetCommandLine
{
    public const string HelpText = """
        Usage: nvme-mptls-target [options]

        Without options the target serves one 1 GiB memory namespace (NSID 1) in subsystem
        nqn.2026-01.io.nvmemptls:default to any host on 127.0.0.1:4420, discovery on 127.0.0.1:8009.
        Precedence: built-in default < appsettings.json < --config FILE < NVMEMPTLS_Target__... env < flags.

          --config FILE                 full configuration (JSON, section "Target")
          --listen ADDR:PORT            address and port of the first port (e.g. 0.0.0.0:4420, [::]:4420)
          --discovery ADDR:PORT|none    discovery listener of the first port, or none
          --memory-ns SIZE              add a memory namespace (e.g. 1GiB); repeatable
          --file-ns PATH[:SIZE]         add a file namespace, created sparse if missing; repeatable
          --block-ns DEVICE             add a block-device namespace (e.g. /dev/loop0); repeatable
          --rbd-ns POOL/IMAGE           add a Ceph RBD image namespace (POOL/NAMESPACE/IMAGE for a RADOS namespace); repeatable
          --ceph-conf FILE              ceph.conf of the --rbd-ns images (default: librados' search)
          --ceph-id NAME                Ceph client id of the --rbd-ns images, without "client." (default: admin)
                                        (any --*-ns replaces the namespaces of the first subsystem; NSIDs 1, 2, ...)
          --nqn NQN                     NQN of the first subsystem
          --allow-host NQN              allow only these hosts on the first subsystem; repeatable
          --tls none|optional|required  TLS on every port
          --tls-key KEY                 PSK in interchange format NVMeTLSkey-1:HH:...: ; repeatable, replaces configured keys
          --tls-v0-form rfc|compat      pin the TLS PSK form for version-0 identities of the --tls-key keys (default: both
                                        are tried by the PSK binder; compat: nvme-cli <= 2.15)
          --dhchap-secret SECRET        every host of the first subsystem must authenticate in band (DH-HMAC-CHAP) with
                                        this secret (DHHC-1:XX:...:, e.g. from nvme gen-dhchap-key); replaces configured secrets
          --dhchap-ctrl-secret SECRET   with --dhchap-secret: the controller secret the target proves itself with
                                        (bidirectional authentication, nvme connect --dhchap-ctrl-secret)
          --dhchap-concat               with --dhchap-secret: require secure channel concatenation (nvme connect --concat):
                                        the host authenticates on a plain admin queue, then reconnects every queue with
                                        TLS under the PSK generated from that exchange; implies --tls optional
          --multipath required|preferred|disabled   MPTCP on every port
          --metrics URL|off             Prometheus endpoint (e.g. http://127.0.0.1:9464/metrics) or off
          --lba-size 512|4096           LBA size of the namespaces given by flags (or of the first subsystem's)
          --io-engine io_uring|positional   I/O engine of the file and block namespaces given by flags (default io_uring,
                                        O_DIRECT; positional: pread/pwrite on the thread pool)
          --help                        show this text
        """;

    private static readonly HashSet<string> s_flagsWithValue = new(StringComparer.Ordinal)
    {
        "--config", "--listen", "--discovery", "--memory-ns", "--file-ns", "--block-ns", "--rbd-ns", "--ceph-conf", "--ceph-id", "--nqn", "--allow-host",
        "--tls", "--tls-key", "--tls-v0-form", "--multipath", "--metrics", "--lba-size", "--io-engine", "--dhchap-secret", "--dhchap-ctrl-secret",
    };

    /// <summary>Parses flags, reading configuration sources and environment of this process.</summary>
    public static TargetCommandLineResult Parse(string[] args) => Parse(args, environment: null);

    /// <summary>
    /// Parses flags; <paramref name="environment"/> replaces the process environment (null = the real one) and
    /// <paramref name="appSettingsDirectory"/> the directory searched for appsettings.json (null = beside the binary).
    /// </summary>
    public static TargetCommandLineResult Parse(
        string[] args,
        IEnumerable<KeyValuePair<string, string?>>? environment,
        string? appSettingsDirectory = null,
        bool reloadOnChange = false)
    {
        ArgumentNullException.ThrowIfNull(args);
        var errors = new List<string>();
        var flags = new Flags();
        for (int i = 0; i < args.Length; i++)
        {
            string arg = args[i];
            if (arg is "--help" or "-h" or "-?")
            {
                return new TargetCommandLineResult { HelpRequested = true };
            }

            string name = arg;
            string? value = null;
            int equals = arg.IndexOf('=', StringComparison.Ordinal);
            if (arg.StartsWith("--", StringComparison.Ordinal) && equals > 0)
            {
                name = arg[..equals];
                value = arg[(equals + 1)..];
            }

            if (name == "--dhchap-concat" && value is null)
            {
                flags.SecureConcat = true;
                continue;
            }

            if (!s_flagsWithValue.Contains(name))
            {
                errors.Add(arg.StartsWith('-') ? $"{name}: unknown option (see --help)" : $"'{arg}': unexpected argument (options start with --; see --help)");
                continue;
            }

            if (value is null)
            {
                if (i + 1 >= args.Length || args[i + 1].StartsWith("--", StringComparison.Ordinal))
                {
                    errors.Add($"{name}: missing value (see --help)");
                    continue;
                }

                value = args[++i];
            }

            flags.Accept(name, value, errors);
        }

        flags.Check(errors);
        if (errors.Count > 0)
        {
            return new TargetCommandLineResult { Errors = [.. errors] };
        }

        IConfigurationRoot configuration;
        try
        {
            configuration = new ConfigurationBuilder()
                .AddTargetSources(flags.ConfigFile, reloadOnChange, environment ?? ProcessEnvironment(), appSettingsDirectory)
                .Build();
        }
        catch (FileNotFoundException)
        {
            return new TargetCommandLineResult { Errors = [$"--config: file '{flags.ConfigFile}' not found"] };
        }
        catch (Exception e) when (e is InvalidDataException or FormatException or IOException or UnauthorizedAccessException)
        {
            string source = flags.ConfigFile is null ? AppSettingsFileName(appSettingsDirectory) : $"--config: '{flags.ConfigFile}'";
            return new TargetCommandLineResult { Errors = [$"{source}: cannot be read as JSON configuration: {e.Message}"] };
        }

        Func<TargetOptions, TargetOptions> apply = flags.Apply;
        return TargetConfiguration.TryLoad(configuration, out TargetOptions? options, out ImmutableArray<string> loadErrors, apply)
            ? new TargetCommandLineResult { Options = options, Configuration = configuration, ApplyFlags = apply }
            : new TargetCommandLineResult { Errors = loadErrors, Configuration = configuration, ApplyFlags = apply };
    }

    private static string AppSettingsFileName(string? directory) =>
        Path.Combine(directory ?? AppContext.BaseDirectory, TargetConfiguration.AppSettingsFileName);

    private static List<KeyValuePair<string, string?>> ProcessEnvironment()
    {
        var list = new List<KeyValuePair<string, string?>>();
        foreach (DictionaryEntry entry in Environment.GetEnvironmentVariables())
        {
            list.Add(new((string)entry.Key, entry.Value as string));
        }

        return list;
    }

    /// <summary>The parsed flags, applied on top of whatever the configuration sources produced.</summary>
    private sealed class Flags
    {
        private readonly List<NamespaceOptions> _namespaces = [];
        private readonly List<string> _allowedHosts = [];
        private readonly List<TlsKeyOptions> _tlsKeys = [];
        private bool? _v0Compat;

        /// <summary>--dhchap-concat: the --dhchap-secret host must use secure channel concatenation.</summary>
        public bool SecureConcat { get; set; }
        private string? _dhchapSecret;
        private string? _dhchapControllerSecret;
        private (string Address, int Port)? _listen;
        private (string Address, int Port)? _discovery;
        private bool _discoveryNone;
        private string? _nqn;
        private string? _cephConf;
        private string? _cephId;
        private TlsMode? _tls;
        private MultipathMode? _multipath;
        private string? _metrics;
        private int? _lbaSize;
        private Namespaces.IoEngine? _ioEngine;

        public string? ConfigFile { get; private set; }

        public void Accept(string name, string value, List<string> errors)
        {
            switch (name)
            {
                case "--config":
                    ConfigFile = value;
                    break;
                case "--listen":
                    _listen = ParseEndpoint(name, value, errors);
                    break;
                case "--discovery" when value.Equals("none", StringComparison.OrdinalIgnoreCase):
                    _discoveryNone = true;
                    _discovery = null;
                    break;
                case "--discovery":
                    _discoveryNone = false;
                    _discovery = ParseEndpoint(name, value, errors);
                    break;
                case "--memory-ns" when ByteSize.TryParse(value, out long size):
                    _namespaces.Add(new NamespaceOptions { Backing = NamespaceBacking.Memory, SizeBytes = size });
                    break;
                case "--memory-ns":
                    errors.Add($"--memory-ns: expected a size such as 1GiB, 512MiB or 4096 (was '{value}')");
                    break;
                case "--file-ns":
                    _namespaces.Add(ParseFileNamespace(value));
                    break;
                case "--block-ns":
                    _namespaces.Add(new NamespaceOptions { Backing = NamespaceBacking.Block, Path = value, SizeBytes = null });
                    break;
                case "--rbd-ns" when RbdOptions.TryParseSpec(value, out RbdOptions rbd):
                    _namespaces.Add(new NamespaceOptions { Backing = NamespaceBacking.Rbd, Rbd = rbd, SizeBytes = null });
                    break;
                case "--rbd-ns":
                    errors.Add($"--rbd-ns: expected POOL/IMAGE or POOL/NAMESPACE/IMAGE (was '{value}')");
                    break;
                case "--ceph-conf":
                    _cephConf = value;
                    break;
                case "--ceph-id":
                    _cephId = value;
                    break;
                case "--nqn":
                    _nqn = value;
                    break;
                case "--allow-host":
                    _allowedHosts.Add(value);
                    break;
                case "--tls":
                    _tls = ParseChoice(name, value, TargetOptionsReader.s_tls, errors);
                    break;
                case "--tls-key":
                    _tlsKeys.Add(new TlsKeyOptions { Key = value });
                    break;
                case "--dhchap-secret":
                    _dhchapSecret = value;
                    break;
                case "--dhchap-ctrl-secret":
                    _dhchapControllerSecret = value;
                    break;
                case "--tls-v0-form":
                    if (value is "rfc" or "compat")
                    {
                        _v0Compat = value == "compat";
                    }
                    else
                    {
                        errors.Add($"--tls-v0-form: must be rfc or compat (was '{value}')");
                    }

                    break;
                case "--multipath":
                    _multipath = ParseChoice(name, value, TargetOptionsReader.s_multipath, errors);
                    break;
                case "--metrics":
                    _metrics = value;
                    if (!value.Equals("off", StringComparison.OrdinalIgnoreCase) && !Uri.TryCreate(value, UriKind.Absolute, out _))
                    {
                        errors.Add($"--metrics: expected an absolute URL such as http://127.0.0.1:9464/metrics, or off (was '{value}')");
                    }

                    break;
                case "--lba-size" when value is "512" or "4096":
                    _lbaSize = int.Parse(value, CultureInfo.InvariantCulture);
                    break;
                case "--lba-size":
                    errors.Add($"--lba-size: must be 512 or 4096 (was '{value}')");
                    break;
                case "--io-engine" when value is "io_uring" or "positional":
                    _ioEngine = value == "io_uring" ? Namespaces.IoEngine.IoUring : Namespaces.IoEngine.Positional;
                    break;
                case "--io-engine":
                    errors.Add($"--io-engine: must be io_uring or positional (was '{value}')");
                    break;
                default:
                    errors.Add($"{name}: unknown option (see --help)");
                    break;
            }
        }

        /// <summary>Rules between flags, checked once all are read.</summary>
        public void Check(List<string> errors)
        {
            if (_dhchapControllerSecret is not null && _dhchapSecret is null)
            {
                errors.Add("--dhchap-ctrl-secret: needs --dhchap-secret (the host secret)");
            }

            if (SecureConcat && _dhchapSecret is null)
            {
                errors.Add("--dhchap-concat: needs --dhchap-secret (concatenation derives the TLS PSK from DH-HMAC-CHAP)");
            }

            if (SecureConcat && _tls is not null and not TlsMode.Optional)
            {
                errors.Add("--dhchap-concat: needs --tls optional (the host authenticates in the clear, then reconnects with TLS)");
            }
        }

        public TargetOptions Apply(TargetOptions options)
        {
            options = ApplySubsystem(options);
            options = ApplyPorts(options);
            if (_dhchapSecret is not null && !options.Subsystems.IsEmpty)
            {
                options = options with
                {
                    DhChap = new DhChapOptions
                    {
                        Hosts = [new DhChapHostOptions
                        {
                            SubsystemNqn = options.Subsystems[0].Nqn, Secret = _dhchapSecret, ControllerSecret = _dhchapControllerSecret, SecureConcat = SecureConcat,
                        }],
                    },
                };
            }

            if (_tlsKeys.Count > 0)
            {
                options = options with { Tls = options.Tls with { Keys = [.. _tlsKeys.Select(k => k with { V0Compat = _v0Compat })] } };
            }

            if (_metrics is not null)
            {
                options = options with
                {
                    Metrics = _metrics.Equals("off", StringComparison.OrdinalIgnoreCase)
                        ? options.Metrics with { Enabled = false }
                        : options.Metrics with { Enabled = true, Url = _metrics },
                };
            }

            return options;
        }

        private TargetOptions ApplySubsystem(TargetOptions options)
        {
            if (_nqn is null && _allowedHosts.Count == 0 && _namespaces.Count == 0 && _lbaSize is null && _ioEngine is null)
            {
                return options;
            }

            SubsystemOptions first = options.Subsystems.IsEmpty ? new SubsystemOptions { Namespaces = [] } : options.Subsystems[0];
            if (_nqn is not null)
            {
                first = first with { Nqn = _nqn };
            }

            if (_allowedHosts.Count > 0)
            {
                first = first with { AllowAnyHost = false, AllowedHosts = [.. _allowedHosts] };
            }

            IEnumerable<NamespaceOptions> namespaces = _namespaces.Count > 0 ? _namespaces : first.Namespaces;
            var numbered = ImmutableArray.CreateBuilder<NamespaceOptions>();
            foreach (NamespaceOptions ns in namespaces)
            {
                NamespaceOptions updated = _namespaces.Count > 0 ? WithCephClient(ns) with { Nsid = (uint)numbered.Count + 1 } : ns;
                updated = _lbaSize is { } lba ? updated with { LbaSize = lba } : updated;
                numbered.Add(_ioEngine is { } engine && updated.Backing is NamespaceBacking.File or NamespaceBacking.Block ? updated with { IoEngine = engine } : updated);
            }

            first = first with { Namespaces = numbered.ToImmutable() };
            return options with { Subsystems = options.Subsystems.IsEmpty ? [first] : options.Subsystems.SetItem(0, first) };
        }

        // --ceph-conf and --ceph-id apply to every --rbd-ns, wherever they stand among the flags.
        private NamespaceOptions WithCephClient(NamespaceOptions ns) =>
            ns.Rbd is { } rbd ? ns with { Rbd = rbd with { CephConf = _cephConf ?? rbd.CephConf, CephId = _cephId ?? rbd.CephId } } : ns;

        private TargetOptions ApplyPorts(TargetOptions options)
        {
            if (SecureConcat)
            {
                _tls ??= TlsMode.Optional;
            }

            if (_listen is null && _discovery is null && !_discoveryNone && _tls is null && _multipath is null)
            {
                return options;
            }

            ImmutableArray<PortOptions> ports = options.Ports.IsEmpty ? [new PortOptions()] : options.Ports;
            PortOptions first = ports[0];
            if (_listen is { } listen)
            {
                first = first with { Address = listen.Address, Port = listen.Port };
            }

            if (_discoveryNone)
            {
                first = first with { DiscoveryPort = null, DiscoveryAddress = null };
            }
            else if (_discovery is { } discovery)
            {
                first = first with
                {
                    DiscoveryPort = discovery.Port,
                    DiscoveryAddress = discovery.Address == first.Address ? null : discovery.Address,
                };
            }

            ports = ports.SetItem(0, first);
            var builder = ImmutableArray.CreateBuilder<PortOptions>(ports.Length);
            foreach (PortOptions port in ports)
            {
                builder.Add(port with { Tls = _tls ?? port.Tls, Multipath = _multipath ?? port.Multipath });
            }

            return options with { Ports = builder.MoveToImmutable() };
        }

        private static NamespaceOptions ParseFileNamespace(string value)
        {
            // PATH:SIZE, split at the last ':' only when what follows is a size, so paths with ':' still work.
            int colon = value.LastIndexOf(':');
            if (colon > 0 && ByteSize.TryParse(value[(colon + 1)..], out long size))
            {
                return new NamespaceOptions { Backing = NamespaceBacking.File, Path = value[..colon], SizeBytes = size };
            }

            return new NamespaceOptions { Backing = NamespaceBacking.File, Path = value, SizeBytes = null };
        }

        private static (string Address, int Port)? ParseEndpoint(string name, string value, List<string> errors)
        {
            if (IPEndPoint.TryParse(value, out IPEndPoint? endpoint) && endpoint.Port != 0 && value.Contains(':', StringComparison.Ordinal)
                && (endpoint.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork || value.StartsWith('[')))
            {
                return (endpoint.Address.ToString(), endpoint.Port);
            }

            errors.Add($"{name}: expected ADDR:PORT such as 127.0.0.1:4420 or [::1]:4420 (was '{value}')");
            return null;
        }

        private static T? ParseChoice<T>(string name, string value, (string Name, T Value)[] choices, List<string> errors)
            where T : struct
        {
            foreach ((string choice, T result) in choices)
            {
                if (choice.Equals(value, StringComparison.OrdinalIgnoreCase))
                {
                    return result;
                }
            }

            errors.Add($"{name}: must be one of {string.Join(", ", choices.Select(c => c.Name))} (was '{value}')");
            return null;
        }
    }
}
