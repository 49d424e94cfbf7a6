using System.Diagnostics;

namespace NvmeMptls.Cli.Mount;

/// <summary>
/// <c>nvme-mptls mount &lt;mountpoint&gt; [--mkfs ext4] [--socket PATH]</c>.
/// The NBD server is a separate process so the mount outlives the command: when <see cref="StartServer"/> is set,
/// the manager starts it with <see cref="ServerArguments"/> plus <c>--socket PATH</c> (the CLI passes a function
/// that runs <c>nvme-mptls nbd ...</c>), records its pid, and <c>umount</c> stops it. When it is null the manager
/// attaches to a server already listening on <see cref="SocketPath"/> and leaves that server alone.
/// </summary>
public sealed record MountRequest
{
    public required string MountPoint { get; init; }

    /// <summary>Filesystem to create first (only "ext4"), or null to mount what is there.</summary>
    public string? Mkfs { get; init; }

    /// <summary>NBD Unix socket; default <c>/run/nvme-mptls/&lt;hash&gt;.sock</c> for a started server.</summary>
    public string? SocketPath { get; init; }

    public string ExportName { get; init; } = "nvme";

    public IReadOnlyList<string> ServerArguments { get; init; } = [];

    public Func<string[], Process>? StartServer { get; init; }

    /// <summary>Where state files (and the FUSE directory) live; umount finds the mount by its mountpoint there.</summary>
    public string StateDirectory { get; init; } = MountState.DefaultDirectory;

    /// <summary>How long the server socket and nbdfuse may take to come up.</summary>
    public TimeSpan ReadyTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Extra <c>mount -o</c> options, or null.</summary>
    public string? MountOptions { get; init; }

    /// <summary>Parses <c>&lt;mountpoint&gt; [--mkfs ext4] [--socket PATH] [-o OPTIONS]</c>; other arguments go to <see cref="ServerArguments"/>.</summary>
    public static MountRequest Parse(IReadOnlyList<string> args)
    {
        string? mountPoint = null;
        string? mkfs = null;
        string? socket = null;
        string? options = null;
        var rest = new List<string>();
        for (var i = 0; i < args.Count; i++)
        {
            switch (args[i])
            {
                case "--mkfs":
                    mkfs = Next(args, ref i);
                    break;
                case "--socket":
                    socket = Next(args, ref i);
                    break;
                case "-o":
                    options = Next(args, ref i);
                    break;
                default:
                    if (mountPoint is null && !args[i].StartsWith('-'))
                    {
                        mountPoint = args[i];
                    }
                    else
                    {
                        rest.Add(args[i]);
                    }

                    break;
            }
        }

        if (mountPoint is null)
        {
            throw new MountException("usage: mount <mountpoint> [--mkfs ext4] [--socket PATH] [-o OPTIONS]");
        }

        if (mkfs is not (null or "ext4"))
        {
            throw new MountException($"--mkfs {mkfs} is not supported; only ext4");
        }

        return new MountRequest { MountPoint = mountPoint, Mkfs = mkfs, SocketPath = socket, MountOptions = options, ServerArguments = rest };
    }

    private static string Next(IReadOnlyList<string> args, ref int i) =>
        i + 1 < args.Count ? args[++i] : throw new MountException($"{args[i]} needs a value");
}

/// <summary>A mount or umount step failed; everything set up before it has been undone.</summary>
public sealed class MountException : Exception
{
    public MountException(string message, Exception? inner = null)
        : base(message, inner)
    {
    }
}
