using System.Globalization;
using NvmeMptls.Initiator;
using NvmeMptls.Initiator.LoadGen;

namespace NvmeMptls.Cli.Commands;

/// <summary>
/// <c>nvme-mptls bench --controller ADDR[:PORT]</c> (repeatable): besides the controller named by -a/-s, connect to
/// these controllers of the same subsystem (other gateways or ports, same options otherwise) and drive the namespace
/// through all of them as one <see cref="NvmeMultipathNamespace"/>, which follows ANA: I/O goes to optimized paths
/// and moves when a path becomes inaccessible or is lost. Multipath across controllers, beside MPTCP's across subflows.
/// </summary>
public static class BenchControllers
{
    public const string Option = "controller";

    /// <summary>Takes every <c>--controller X</c>/<c>--controller=X</c> out of the arguments.</summary>
    public static (List<string> Controllers, List<string> Others) Take(IReadOnlyList<string> args)
    {
        var controllers = new List<string>();
        var rest = new List<string>();
        for (var i = 0; i < args.Count; i++)
        {
            var arg = args[i];
            if (arg == "--" + Option)
            {
                if (i + 1 >= args.Count)
                {
                    throw new UsageException($"option --{Option} needs a value (ADDR[:PORT])");
                }

                controllers.Add(args[++i]);
            }
            else if (arg.StartsWith("--" + Option + "=", StringComparison.Ordinal))
            {
                controllers.Add(arg[(Option.Length + 3)..]);
            }
            else
            {
                rest.Add(arg);
            }
        }

        return (controllers, rest);
    }

    /// <summary>Options for each extra controller: the first controller's, with the address and port replaced.</summary>
    public static List<NvmeControllerOptions> Parse(IReadOnlyList<string> values, NvmeControllerOptions first)
    {
        ArgumentNullException.ThrowIfNull(values);
        ArgumentNullException.ThrowIfNull(first);
        var result = new List<NvmeControllerOptions>(values.Count);
        foreach (var value in values)
        {
            var (address, port) = Split(value, first.TargetPort);
            result.Add(first with { TargetAddress = address, TargetPort = port });
        }

        return result;
    }

    /// <summary><c>ADDR</c>, <c>ADDR:PORT</c>, <c>[V6]</c> or <c>[V6]:PORT</c>; a bare IPv6 address takes the default port.</summary>
    public static (string Address, int Port) Split(string value, int defaultPort)
    {
        ArgumentNullException.ThrowIfNull(value);
        string address;
        string? port = null;
        if (value.StartsWith('['))
        {
            var close = value.IndexOf(']', StringComparison.Ordinal);
            if (close < 0 || (close + 1 < value.Length && value[close + 1] != ':'))
            {
                throw new UsageException($"--{Option} {value}: expected [IPv6] or [IPv6]:PORT");
            }

            address = value[1..close];
            port = close + 2 <= value.Length - 1 ? value[(close + 2)..] : null;
        }
        else if (value.Count(c => c == ':') == 1)
        {
            var colon = value.IndexOf(':', StringComparison.Ordinal);
            address = value[..colon];
            port = value[(colon + 1)..];
        }
        else
        {
            address = value;
        }

        if (address.Length == 0)
        {
            throw new UsageException($"--{Option} {value}: no address");
        }

        if (port is null)
        {
            return (address, defaultPort);
        }

        if (!int.TryParse(port, NumberStyles.None, CultureInfo.InvariantCulture, out var number) || number is < 1 or > 65535)
        {
            throw new UsageException($"--{Option} {value}: port '{port}' is not 1 to 65535");
        }

        return (address, number);
    }

    /// <summary>
    /// Connects the first controller and the extra ones (each added to <paramref name="controllers"/> as soon as it is up,
    /// so the caller closes what was opened even when a later one fails) and opens the namespace: the plain namespace
    /// with one controller, a multipath namespace over all of them otherwise.
    /// </summary>
    public static async Task<INamespaceDevice> OpenAsync(
        VerbContext context, CommandLine line, NvmeControllerOptions first, IReadOnlyList<NvmeControllerOptions> others, BenchJob job,
        uint nsid, List<NvmeController> controllers, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(line);
        ArgumentNullException.ThrowIfNull(others);
        ArgumentNullException.ThrowIfNull(controllers);
        var all = new List<NvmeControllerOptions>(others.Count + 1) { first };
        all.AddRange(others);
        foreach (var options in all)
        {
            var o = line.Has("nr-io-queues") ? options : options with { IoQueueCount = job.NrIoQueues };
            controllers.Add(await Session.ConnectAsync(context, line, o, cancellationToken).ConfigureAwait(false));
        }

        if (controllers.Count == 1)
        {
            return await controllers[0].OpenNamespaceAsync(nsid, cancellationToken).ConfigureAwait(false);
        }

        var device = await NvmeMultipathNamespace.OpenAsync(controllers, nsid, logger: Session.Logger(context with { Options = line }), cancellationToken: cancellationToken).ConfigureAwait(false);
        foreach (var path in device.Paths)
        {
            await context.Error.WriteLineAsync($"bench: path {path.Controller.Options.TargetAddress}:{path.Controller.Options.TargetPort} (controller {path.Controller.ControllerId})").ConfigureAwait(false);
        }

        return device;
    }
}
