using System.Globalization;
using System.Net;

namespace NvmeMptls.Initiator.Nbd;

/// <summary>
/// How the NBD export is offered. Exactly one of <see cref="SocketPath"/> and <see cref="Port"/> is set.
/// TCP binds to loopback unless <see cref="BindAddress"/> says otherwise: NBD has no authentication here.
/// </summary>
public sealed record NbdServerOptions
{
    /// <summary>Largest request the server takes (the spec's default maximum when no block size is advertised).</summary>
    public const int DefaultMaxRequestBytes = 32 * 1024 * 1024;

    public static NbdServerOptions Default { get; } = new() { SocketPath = "/tmp/nvme-mptls.sock" };

    /// <summary>Unix socket path; a stale socket file left there is removed at start.</summary>
    public string? SocketPath { get; init; }

    /// <summary>TCP port (0 picks a free one; see <see cref="NbdServer.EndPoint"/>).</summary>
    public int? Port { get; init; }

    public IPAddress BindAddress { get; init; } = IPAddress.Loopback;

    /// <summary>Export name; the empty name (the default export) is accepted too.</summary>
    public string ExportName { get; init; } = "nvme";

    public string Description { get; init; } = "NvmeMptls NVMe/TCP namespace";

    public bool ReadOnly { get; init; }

    /// <summary>Advertise NBD_FLAG_CAN_MULTI_CONN: all devices are queues of one namespace, so a flush on one covers all.</summary>
    public bool MultiConn { get; init; } = true;

    /// <summary>Requests read but not yet answered on one connection; the reader waits when this many are in flight.</summary>
    public int MaxInFlightPerConnection { get; init; } = 64;

    public int MaxRequestBytes { get; init; } = DefaultMaxRequestBytes;

    /// <summary>Throws with the offending key and the accepted values when the options cannot work.</summary>
    public void Validate()
    {
        if ((SocketPath is null) == (Port is null))
        {
            throw new ArgumentException("exactly one of --socket PATH and --port N must be given");
        }

        if (Port is < 0 or > 65535)
        {
            throw new ArgumentException($"--port must be 0..65535, got {Port}");
        }

        if (SocketPath is { Length: 0 or > 107 })
        {
            throw new ArgumentException("--socket must be a path of 1..107 bytes");
        }

        if (System.Text.Encoding.UTF8.GetByteCount(ExportName) > 4096)
        {
            throw new ArgumentException("--export-name must be at most 4096 bytes");
        }

        if (MaxInFlightPerConnection is < 1 or > 4096)
        {
            throw new ArgumentException($"--max-in-flight must be 1..4096, got {MaxInFlightPerConnection}");
        }

        if (MaxRequestBytes < 4096 || MaxRequestBytes > 256 * 1024 * 1024 || (MaxRequestBytes & (MaxRequestBytes - 1)) != 0)
        {
            throw new ArgumentException($"--max-request must be a power of two in 4096..256M, got {MaxRequestBytes}");
        }
    }

    /// <summary>
    /// Parses the options the NBD server owns: <c>--socket PATH</c>, <c>--port N</c>, <c>--bind ADDR</c>,
    /// <c>--export-name NAME</c>, <c>--description TEXT</c>, <c>--read-only</c>, <c>--no-multi-conn</c>,
    /// <c>--max-in-flight N</c>. Anything else is appended to <paramref name="unparsed"/> for the caller
    /// (target address, TLS, queue counts). Without --socket or --port the Unix socket /tmp/nvme-mptls.sock is used.
    /// </summary>
    public static NbdServerOptions Parse(IReadOnlyList<string> args, IList<string> unparsed)
    {
        var options = new NbdServerOptions();
        for (var i = 0; i < args.Count; i++)
        {
            var arg = args[i];
            switch (arg)
            {
                case "--socket":
                    options = options with { SocketPath = Value(args, ref i) };
                    break;
                case "--port":
                    options = options with { Port = int.Parse(Value(args, ref i), NumberStyles.None, CultureInfo.InvariantCulture) };
                    break;
                case "--bind":
                    options = options with { BindAddress = IPAddress.Parse(Value(args, ref i)) };
                    break;
                case "--export-name":
                    options = options with { ExportName = Value(args, ref i) };
                    break;
                case "--description":
                    options = options with { Description = Value(args, ref i) };
                    break;
                case "--read-only":
                    options = options with { ReadOnly = true };
                    break;
                case "--no-multi-conn":
                    options = options with { MultiConn = false };
                    break;
                case "--max-in-flight":
                    options = options with { MaxInFlightPerConnection = int.Parse(Value(args, ref i), NumberStyles.None, CultureInfo.InvariantCulture) };
                    break;
                default:
                    unparsed.Add(arg);
                    break;
            }
        }

        if (options.SocketPath is null && options.Port is null)
        {
            options = options with { SocketPath = Default.SocketPath };
        }

        options.Validate();
        return options;
    }

    private static string Value(IReadOnlyList<string> args, ref int i)
    {
        if (i + 1 >= args.Count)
        {
            throw new ArgumentException($"{args[i]} needs a value");
        }

        return args[++i];
    }
}
