using System.Diagnostics;
using NvmeMptls.Cli.Mount;
using NvmeMptls.Initiator;
using NvmeMptls.Initiator.LoadGen;
using NvmeMptls.Initiator.Nbd;

namespace NvmeMptls.Cli.Commands;

/// <summary>
/// Verbs whose arguments are parsed by their own feature (fio options, NBD and mount options, nvme-cli's key
/// tool options); the fabrics options among them (-a, -s, -n, --tls…) connect the controller.
/// </summary>
public static class ToolCommands
{
    private static readonly List<OptionSpec> Fabrics = [.. FabricsOptions.Common(), FabricsOptions.NamespaceId];

    public static Verb GenTlsKey { get; } = RawVerb("gen-tls-key", "generate a PSK in NVMe interchange format (like nvme-cli)",
        (args, c, _) => Task.FromResult(TlsKeyCommands.GenTlsKey([.. args], c.Out, c.Error)));

    public static Verb CheckTlsKey { get; } = RawVerb("check-tls-key", "validate a PSK; with --hostnqn/--subsysnqn print its identity and TLS PSK",
        (args, c, _) => Task.FromResult(TlsKeyCommands.CheckTlsKey([.. args], c.Out, c.Error)));

    public static Verb GenDhChapKey { get; } = RawVerb("gen-dhchap-key", "generate a DH-HMAC-CHAP secret DHHC-1:XX:...: (like nvme-cli; --hmac 1-3 transforms with --nqn)",
        (args, c, _) => Task.FromResult(DhChapKeyCommands.GenDhChapKey([.. args], c.Out, c.Error)));

    public static Verb CheckDhChapKey { get; } = RawVerb("check-dhchap-key", "validate a DH-HMAC-CHAP secret (like nvme-cli)",
        (args, c, _) => Task.FromResult(DhChapKeyCommands.CheckDhChapKey([.. args], c.Out, c.Error)));

    public static Verb Nbd { get; } = RawVerb("nbd", "export a namespace over NBD (--socket PATH | --port N) until interrupted", NbdAsync);

    public static Verb Mount { get; } = RawVerb("mount", "mount a namespace: <mountpoint> [--mkfs ext4] [-o OPTS] plus connection options", MountAsync);

    public static Verb Umount { get; } = RawVerb("umount", "flush, unmount and tear down a mount made by 'mount': <mountpoint>", UmountAsync);

    public static Verb Bench { get; } = RawVerb("bench", "fio-like load generator: --rw --bs --iodepth --numjobs --size --runtime --verify=crc32c… or a job file; --controller ADDR[:PORT] (repeatable) adds controllers of the subsystem as ANA-aware paths", BenchAsync);

    private static Verb RawVerb(string name, string summary, Func<IReadOnlyList<string>, VerbContext, CancellationToken, Task<int>> raw) =>
        new(name, summary, [], static (_, _) => Task.FromResult(2)) { Raw = raw };

    private static async Task<int> NbdAsync(IReadOnlyList<string> args, VerbContext context, CancellationToken cancellationToken)
    {
        var unparsed = new List<string>();
        var nbdOptions = NbdServerOptions.Parse(args, unparsed);
        var line = CommandLine.Parse(unparsed, Fabrics);
        var options = FabricsOptions.Build(line, FabricsOptions.DefaultPort);
        var controller = await Session.ConnectAsync(context, line, options, cancellationToken).ConfigureAwait(false);
        await using (controller.ConfigureAwait(false))
        {
            var ns = await controller.OpenNamespaceAsync(FabricsOptions.Nsid(line), cancellationToken).ConfigureAwait(false);
            await using var server = new NbdServer(nbdOptions, [ns]);
            await server.StartAsync(cancellationToken).ConfigureAwait(false);
            await context.Out.WriteLineAsync($"nbd: exporting {options.SubsystemNqn} namespace {ns.Nsid} ({ns.BlockCount * (ulong)ns.LbaSize} bytes) as '{nbdOptions.ExportName}' on {server.EndPoint}").ConfigureAwait(false);
            await context.Out.FlushAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                await Task.Delay(Timeout.Infinite, cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                // Interrupted: answer what was read, flush, remove the socket.
            }

            await server.StopAsync(CancellationToken.None).ConfigureAwait(false);
            return 0;
        }
    }

    private static async Task<int> MountAsync(IReadOnlyList<string> args, VerbContext context, CancellationToken cancellationToken)
    {
        var request = MountRequest.Parse(args);

        // Check the connection options here so a typo fails before anything is set up.
        FabricsOptions.Build(CommandLine.Parse(request.ServerArguments, Fabrics), FabricsOptions.DefaultPort);
        request = request with
        {
            StartServer = serverArgs =>
            {
                var socket = serverArgs[Array.IndexOf(serverArgs, "--socket") + 1];
                return Process.Start(MountManager.Detached(SelfStartInfo(["nbd", .. serverArgs]), Path.ChangeExtension(socket, ".nbd.log")))!;
            },
        };
        var state = await new MountManager().MountAsync(request, cancellationToken).ConfigureAwait(false);
        await context.Out.WriteLineAsync($"mounted {state.Device} on {state.MountPoint} ({state.Method}, NBD socket {state.SocketPath}); 'nvme-mptls umount {state.MountPoint}' to undo").ConfigureAwait(false);
        return 0;
    }

    private static async Task<int> UmountAsync(IReadOnlyList<string> args, VerbContext context, CancellationToken cancellationToken)
    {
        if (args.Count != 1 || args[0].StartsWith('-'))
        {
            throw new UsageException("umount takes exactly one argument: the mount point");
        }

        await new MountManager().UnmountAsync(Path.GetFullPath(args[0]), cancellationToken: cancellationToken).ConfigureAwait(false);
        await context.Out.WriteLineAsync($"unmounted {args[0]}").ConfigureAwait(false);
        return 0;
    }

    private static async Task<int> BenchAsync(IReadOnlyList<string> args, VerbContext context, CancellationToken cancellationToken)
    {
        var (controllerArgs, rest) = BenchControllers.Take(args);
        var (fabricsArgs, benchArgs) = Split(rest);
        var line = CommandLine.Parse(fabricsArgs, Fabrics);
        var controllers = new List<NvmeController>();
        INamespaceDevice? device = null;
        var gate = new SemaphoreSlim(1, 1);
        try
        {
            return await BenchCommand.RunAsync(benchArgs, async (job, _) =>
            {
                await gate.WaitAsync(cancellationToken).ConfigureAwait(false);
                try
                {
                    if (job.Engine == BenchEngine.Null)
                    {
                        // fio's null engine: no target, nothing to connect; sized to cover every clone's range.
                        return new NullNamespaceDevice(job.Size == 0 ? 1L << 30 : job.Offset + job.Size + ((job.NumJobs - 1) * job.OffsetIncrement));
                    }

                    if (device is null)
                    {
                        var options = FabricsOptions.Build(line, FabricsOptions.DefaultPort, completions: NvmeCompletionMode.Inline);
                        var others = BenchControllers.Parse(controllerArgs, options);
                        device = await BenchControllers.OpenAsync(context, line, options, others, job, FabricsOptions.Nsid(line), controllers, cancellationToken).ConfigureAwait(false);
                    }

                    return device;
                }
                finally
                {
                    gate.Release();
                }
            }, context.Out, context.Error, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            (device as IDisposable)?.Dispose();
            foreach (var controller in controllers)
            {
                await controller.DisposeAsync().ConfigureAwait(false);
            }

            gate.Dispose();
        }
    }

    /// <summary>
    /// Separates the connection options from fio's; --nr-io-queues goes to both, --output-format (fio's report format:
    /// normal, json, json+, terse) only to bench.
    /// </summary>
    private static (List<string> Fabrics, List<string> Bench) Split(List<string> args)
    {
        var fabrics = new List<string>();
        var bench = new List<string>();
        for (var i = 0; i < args.Count; i++)
        {
            var arg = args[i];
            OptionSpec? spec = null;
            var inline = false;
            if (arg.StartsWith("--", StringComparison.Ordinal))
            {
                var eq = arg.IndexOf('=', StringComparison.Ordinal);
                var name = eq > 0 ? arg[2..eq] : arg[2..];
                inline = eq > 0;
                spec = Fabrics.Find(s => s.Long == name && name is not ("help" or "output-format"));
            }
            else if (arg.Length == 2 && arg[0] == '-')
            {
                spec = Fabrics.Find(s => s.Short == arg[1]);
            }

            if (spec is null)
            {
                bench.Add(arg);
                continue;
            }

            var target = spec.Long == "nr-io-queues" ? [fabrics, bench] : new[] { fabrics };
            foreach (var list in target)
            {
                list.Add(arg);
            }

            if (spec.TakesValue && !inline && i + 1 < args.Count)
            {
                i++;
                foreach (var list in target)
                {
                    list.Add(args[i]);
                }
            }
        }

        return (fabrics, bench);
    }

    /// <summary>How to start this program again (apphost, or <c>dotnet nvme-mptls.dll</c>).</summary>
    private static ProcessStartInfo SelfStartInfo(IReadOnlyList<string> args)
    {
        var host = Environment.ProcessPath ?? "dotnet";
        var psi = new ProcessStartInfo(host) { UseShellExecute = false };
        if (Path.GetFileNameWithoutExtension(host) == "dotnet")
        {
            psi.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "nvme-mptls.dll"));
        }

        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }

        return psi;
    }
}
