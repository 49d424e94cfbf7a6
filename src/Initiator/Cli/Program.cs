using System.Net.Sockets;
using NvmeMptls.Cli.Commands;
using NvmeMptls.Transport.Nvme;
using NvmeMptls.Transport.Pdu;

namespace NvmeMptls.Cli;

/// <summary><c>nvme-mptls VERB [options]</c>: nvme-cli-like verbs over our own NVMe/TCP initiator.</summary>
public static class Program
{
    public static async Task<int> Main(string[] args)
    {
        // Before any socket exists: socket completions run on the epoll thread (see SocketEngineSettings).
        NvmeMptls.Transport.Sockets.SocketEngineSettings.PreferInlineCompletions();

        using var cancel = new CancellationTokenSource();
        Console.CancelKeyPress += (_, e) =>
        {
            e.Cancel = true;
            cancel.Cancel();
        };

        // SIGTERM (umount stopping an NBD export, systemd) ends a long-running verb as cleanly as Ctrl-C.
        using var sigterm = System.Runtime.InteropServices.PosixSignalRegistration.Create(System.Runtime.InteropServices.PosixSignal.SIGTERM, ctx =>
        {
            ctx.Cancel = true;
            cancel.Cancel();
        });
        using var standardInput = Console.OpenStandardInput();
        using var standardOutput = Console.OpenStandardOutput();
        return await RunAsync(args, Console.Out, Console.Error, standardInput, standardOutput, cancel.Token).ConfigureAwait(false);
    }

    /// <summary>
    /// The verb table. To add a verb (nbd, mount, umount, bench, gen-tls-key, check-tls-key, status…), write a
    /// <see cref="Verb"/> in Commands/ and add it here; parsing, --help and error reporting come with it.
    /// </summary>
    public static VerbTable CreateVerbs()
    {
        var table = new VerbTable();
        table.Add(DiscoverCommands.Discover);
        table.Add(DiscoverCommands.ListSubsys);
        table.Add(IdentifyCommands.IdCtrl);
        table.Add(IdentifyCommands.IdNs);
        table.Add(IdentifyCommands.ListNs);
        table.Add(IoCommands.Read);
        table.Add(IoCommands.Write);
        table.Add(IoCommands.Flush);
        table.Add(LogCommands.GetLog);
        table.Add(LogCommands.GetFeature);
        table.Add(LogCommands.SmartLog);
        table.Add(LogCommands.ErrorLog);
        table.Add(StatusCommand.Status);
        table.Add(GatewayCommands.Gateway);
        table.Add(ToolCommands.GenTlsKey);
        table.Add(ToolCommands.CheckTlsKey);
        table.Add(ToolCommands.GenDhChapKey);
        table.Add(ToolCommands.CheckDhChapKey);
        table.Add(ToolCommands.Nbd);
        table.Add(ToolCommands.Mount);
        table.Add(ToolCommands.Umount);
        table.Add(ToolCommands.Bench);
        return table;
    }

    /// <summary>Runs one invocation; returns the exit status (0 ok, 1 failure, 2 usage error).</summary>
    public static async Task<int> RunAsync(string[] args, TextWriter output, TextWriter error, Stream standardInput, Stream standardOutput, CancellationToken cancellationToken)
    {
        var verbs = CreateVerbs();
        if (args.Length == 0 || args[0] is "help" or "--help" or "-h")
        {
            PrintUsage(verbs, args.Length == 0 ? error : output);
            return args.Length == 0 ? 2 : 0;
        }

        if (!verbs.TryGet(args[0], out var verb))
        {
            await error.WriteLineAsync($"nvme-mptls: unknown verb '{args[0]}' (see nvme-mptls --help)").ConfigureAwait(false);
            return 2;
        }

        try
        {
            if (verb.Raw is { } raw)
            {
                var empty = CommandLine.Parse([], []);
                return await raw(args[1..], new VerbContext(verb.Name, empty, output, error, standardInput, standardOutput), cancellationToken).ConfigureAwait(false);
            }

            var line = CommandLine.Parse(args[1..], verb.Options);
            if (line.Has("help"))
            {
                PrintVerbHelp(verb, output);
                return 0;
            }

            return await verb.Handler(new VerbContext(verb.Name, line, output, error, standardInput, standardOutput), cancellationToken).ConfigureAwait(false);
        }
        catch (UsageException ex)
        {
            await error.WriteLineAsync($"nvme-mptls {verb.Name}: {ex.Message} (see nvme-mptls {verb.Name} --help)").ConfigureAwait(false);
            return 2;
        }
        catch (NvmeStatusException ex)
        {
            await error.WriteLineAsync($"nvme-mptls {verb.Name}: {ex.Message}").ConfigureAwait(false);
            return 1;
        }
        catch (Exception ex) when (ex is IOException or SocketException or TermReqReceivedException or PduException or InvalidOperationException or UnauthorizedAccessException or Mount.MountException or TimeoutException or ArgumentException)
        {
            await error.WriteLineAsync($"nvme-mptls {verb.Name}: {ex.Message}").ConfigureAwait(false);
            return 1;
        }
        catch (OperationCanceledException)
        {
            await error.WriteLineAsync($"nvme-mptls {verb.Name}: interrupted").ConfigureAwait(false);
            return 130;
        }
    }

    private static void PrintUsage(VerbTable verbs, TextWriter writer)
    {
        writer.WriteLine("usage: nvme-mptls <verb> [options]   (nvme-mptls <verb> --help for its options)");
        writer.WriteLine();
        foreach (var verb in verbs.Verbs)
        {
            writer.WriteLine($"  {verb.Name,-14} {verb.Summary}");
        }
    }

    private static void PrintVerbHelp(Verb verb, TextWriter writer)
    {
        writer.WriteLine($"usage: nvme-mptls {verb.Name} [options]");
        writer.WriteLine($"  {verb.Summary}");
        writer.WriteLine();
        foreach (var option in verb.Options)
        {
            var names = option.Short is { } s ? $"-{s}, --{option.Long}" : $"    --{option.Long}";
            if (option.TakesValue)
            {
                names += $" <{option.ValueName ?? "VALUE"}>";
            }

            writer.WriteLine($"  {names,-32} {option.Help}");
        }
    }
}
