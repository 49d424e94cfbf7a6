using NvmeMptls.Initiator;
using NvmeMptls.Transport.Sockets;

namespace NvmeMptls.Cli.Commands;

/// <summary>The connection options every fabrics verb shares, spelled like nvme-cli's.</summary>
public static class FabricsOptions
{
    public const int DefaultPort = 4420;
    public const int DiscoveryPort = 8009;

    /// <summary>Connection options; <paramref name="portShort"/> is false for read/write, where nvme-cli's -s is the start block.</summary>
    public static List<OptionSpec> Common(bool portShort = true) =>
    [
        new("traddr", 'a', true, "target address", "ADDR"),
        new("trsvcid", portShort ? 's' : null, true, "target port (default 4420; discover: 8009)", "PORT"),
        new("nqn", 'n', true, "subsystem NQN", "NQN"),
        new("hostnqn", 'q', true, "host NQN (default /etc/nvme/hostnqn or generated)", "NQN"),
        new("hostid", 'I', true, "host identifier (UUID)", "UUID"),
        new("nr-io-queues", 'i', true, "I/O queues to request", "N"),
        new("queue-size", 'Q', true, "entries per I/O queue", "N"),
        new("hdr-digest", 'g', false, "enable header digests"),
        new("data-digest", 'G', false, "enable data digests"),
        new("keep-alive-tmo", 'k', true, "keep-alive timeout in seconds (0 disables)", "SEC"),
        new("reconnect-delay", null, true, "seconds between reconnect attempts", "SEC"),
        new("ctrl-loss-tmo", 'l', true, "seconds to keep reconnecting", "SEC"),
        new("connect-timeout", null, true, "seconds to wait for each queue's connection", "SEC"),
        new("tls", null, false, "TLS 1.3 on every queue (needs --tls-key)"),
        new("tls-key", null, true, "PSK in interchange format NVMeTLSkey-1:HH:...: or a file holding it", "KEY"),
        new("tls-identity-version", null, true, "PSK identity version: 1 (NVMe1R.., default) or 0", "0|1"),
        new("tls-compat", null, false, "derive identity and TLS PSK in the older libnvme compat form"),
        new("tls-keylog", null, true, "write TLS traffic secrets in NSS key log format (debugging only)", "FILE"),
        new("dhchap-secret", null, true, "DH-HMAC-CHAP host secret DHHC-1:XX:...: (or a file holding it), used when the controller asks", "KEY"),
        new("dhchap-ctrl-secret", 'C', true, "DH-HMAC-CHAP controller secret: also authenticate the controller (bidirectional)", "KEY"),
        new("concat", null, false, "secure channel concatenation: authenticate the admin queue in the clear (needs --dhchap-secret), then TLS on every queue with the generated PSK"),
        new("netns", null, true, "open the queues' sockets in network namespace NAME (/var/run/netns/NAME)", "NAME"),
        new("multipath", 'm', true, "MPTCP policy: preferred (default), required or disabled", "POLICY"),
        new("completions", null, true, "where I/O completions run: pool (thread pool; default) or inline (on each queue's receive thread, one send per receive burst; bench's default)", "pool|inline"),
        new("poll-us", null, true, "busy-poll each I/O queue's socket this long before a receive waits (0: off, default): lower latency at low queue depth for CPU", "USEC"),
        new("paths", null, true, "paths (subflows) expected per queue; warns when the path manager cannot reach them", "N"),
        new("output-format", 'o', true, "normal|json", "FMT"),
        new("verbose", 'v', false, "log to stderr"),
        new("help", 'h', false, "show this help"),
    ];

    /// <summary>A DHHC-1 string as given, or the trimmed contents of the file it names.</summary>
    private static string? SecretOrFile(string? value) =>
        value is null || value.StartsWith("DHHC-1:", StringComparison.Ordinal) || !File.Exists(value) ? value : File.ReadAllText(value).Trim();

    public static OptionSpec NamespaceId => new("namespace-id", 'N', true, "namespace id (default 1)", "NSID");

    /// <summary>
    /// Builds controller options; the subsystem NQN is required unless <paramref name="defaultNqn"/> is given.
    /// <paramref name="completions"/> is the verb's default for <c>--completions</c> (bench: inline).
    /// </summary>
    public static NvmeControllerOptions Build(CommandLine line, int defaultPort, string? defaultNqn = null, NvmeCompletionMode completions = NvmeCompletionMode.ThreadPool)
    {
        var nqn = line.Get("nqn") ?? defaultNqn ?? throw new UsageException("--nqn/-n is required");
        var traddr = line.Get("traddr") ?? throw new UsageException("--traddr/-a is required");
        var options = NvmeControllerOptions.Default with
        {
            TargetAddress = traddr,
            TargetPort = (int)line.GetNumber("trsvcid", defaultPort, 1, 65535),
            SubsystemNqn = nqn,
            HeaderDigest = line.Has("hdr-digest"),
            DataDigest = line.Has("data-digest"),
            IoQueueCount = (int)line.GetNumber("nr-io-queues", NvmeControllerOptions.Default.IoQueueCount, 0, 1024),
            QueueSize = (int)line.GetNumber("queue-size", NvmeControllerOptions.Default.QueueSize, 2, 1024),
            KeepAliveTimeout = Seconds(line, "keep-alive-tmo", NvmeControllerOptions.Default.KeepAliveTimeout),
            ReconnectDelay = Seconds(line, "reconnect-delay", TimeSpan.FromSeconds(2)),
            ControllerLossTimeout = Seconds(line, "ctrl-loss-tmo", TimeSpan.FromSeconds(10)),
            ConnectTimeout = Seconds(line, "connect-timeout", NvmeControllerOptions.Default.ConnectTimeout),
            Tls = line.Has("tls") || line.Has("tls-key"),
            TlsKey = line.Get("tls-key"),
            TlsIdentityVersion = (int)line.GetNumber("tls-identity-version", 1, 0, 1),
            TlsCompat = line.Has("tls-compat"),
            TlsKeyLogFile = line.Get("tls-keylog"),
            DhChapSecret = SecretOrFile(line.Get("dhchap-secret")),
            DhChapControllerSecret = SecretOrFile(line.Get("dhchap-ctrl-secret")),
            SecureConcat = line.Has("concat"),
            ExpectedPaths = (int)line.GetNumber("paths", 1, 1, 8),
            NetworkNamespace = line.Get("netns"),
            ReceivePoll = TimeSpan.FromMicroseconds(line.GetNumber("poll-us", 0, 0, (long)SocketConnectionOptions.MaxReceivePoll.TotalMicroseconds)),
            CompletionMode = line.Get("completions") switch
            {
                null => completions,
                "pool" => NvmeCompletionMode.ThreadPool,
                "inline" => NvmeCompletionMode.Inline,
                var other => throw new UsageException($"--completions '{other}' must be pool or inline"),
            },
            Multipath = line.GetOr("multipath", "preferred") switch
            {
                "preferred" => NvmeMultipathPolicy.Preferred,
                "required" => NvmeMultipathPolicy.Required,
                "disabled" => NvmeMultipathPolicy.Disabled,
                var other => throw new UsageException($"--multipath '{other}' must be preferred, required or disabled"),
            },
        };
        if (line.Get("hostnqn") is { } hostNqn)
        {
            options = options with { HostNqn = hostNqn, HostId = HostIdentity.UuidFromNqn(hostNqn) ?? options.HostId };
        }

        if (line.Get("hostid") is { } hostId)
        {
            options = options with { HostId = Guid.TryParse(hostId, out var g) ? g : throw new UsageException($"--hostid '{hostId}' is not a UUID") };
        }

        try
        {
            options.Validate();
        }
        catch (ArgumentException ex)
        {
            throw new UsageException(ex.Message);
        }

        return options;
    }

    public static bool Json(CommandLine line) => line.GetOr("output-format", "normal") switch
    {
        "normal" => false,
        "json" => true,
        var other => throw new UsageException($"--output-format '{other}' must be normal or json"),
    };

    public static uint Nsid(CommandLine line) => (uint)line.GetNumber("namespace-id", 1, 1, 0xFFFFFFFF);

    private static TimeSpan Seconds(CommandLine line, string name, TimeSpan fallback) =>
        line.Has(name) ? TimeSpan.FromSeconds(line.GetNumber(name, 0, 0, 86400)) : fallback;
}
