using System.Text.Json;
using NvmeMptls.Cli.Output;
using NvmeMptls.Initiator;
using NvmeMptls.Transport.Nvme;

namespace NvmeMptls.Cli.Commands;

/// <summary><c>discover</c> and <c>list-subsys</c>.</summary>
public static class DiscoverCommands
{
    public static Verb Discover { get; } = new("discover", "read the discovery log of a discovery controller (default port 8009)",
        FabricsOptions.Common(), DiscoverAsync);

    public static Verb ListSubsys { get; } = new("list-subsys", "connect to a subsystem and show it with its path",
        FabricsOptions.Common(), ListSubsysAsync);

    private static async Task<int> DiscoverAsync(VerbContext context, CancellationToken cancellationToken)
    {
        var options = FabricsOptions.Build(context.Options, FabricsOptions.DiscoveryPort, WellKnownNqns.Discovery);
        var json = FabricsOptions.Json(context.Options);
        var entries = await TlsFallback.RunAsync(context, context.Options, options,
            o => NvmeDiscovery.GetLogAsync(o, Session.ConnectionFactory, Session.Logger(context), cancellationToken)).ConfigureAwait(false);
        if (json)
        {
            await JsonOutput.WriteAsync(context.StandardOutput, w =>
            {
                w.WriteStartObject();
                w.WriteNumber("numrec", entries.Count);
                w.WriteStartArray("records");
                foreach (var e in entries)
                {
                    w.WriteStartObject();
                    w.WriteString("trtype", Names.TransportType(e.TransportType));
                    w.WriteString("adrfam", Names.AddressFamily(e.AddressFamily));
                    w.WriteString("subtype", Names.SubsystemType(e.SubsystemType));
                    w.WriteString("treq", Names.TransportRequirements(e.TransportRequirements));
                    w.WriteNumber("portid", e.PortId);
                    w.WriteString("trsvcid", e.TransportServiceId);
                    w.WriteString("subnqn", e.SubsystemNqn);
                    w.WriteString("traddr", e.TransportAddress);
                    w.WriteString("sectype", Names.SecurityType(e.SecurityType));
                    w.WriteNumber("cntlid", e.ControllerId);
                    w.WriteNumber("asqsz", e.AdminMaxSqSize);
                    w.WriteEndObject();
                }

                w.WriteEndArray();
                w.WriteEndObject();
            }).ConfigureAwait(false);
            return 0;
        }

        await context.Out.WriteLineAsync().ConfigureAwait(false);
        await context.Out.WriteLineAsync($"Discovery Log Number of Records {entries.Count}").ConfigureAwait(false);
        for (var i = 0; i < entries.Count; i++)
        {
            var e = entries[i];
            await context.Out.WriteLineAsync($"=====Discovery Log Entry {i}======").ConfigureAwait(false);
            await context.Out.WriteLineAsync($"trtype:  {Names.TransportType(e.TransportType)}").ConfigureAwait(false);
            await context.Out.WriteLineAsync($"adrfam:  {Names.AddressFamily(e.AddressFamily)}").ConfigureAwait(false);
            await context.Out.WriteLineAsync($"subtype: {Names.SubsystemType(e.SubsystemType)}").ConfigureAwait(false);
            await context.Out.WriteLineAsync($"treq:    {Names.TransportRequirements(e.TransportRequirements)}").ConfigureAwait(false);
            await context.Out.WriteLineAsync($"portid:  {e.PortId}").ConfigureAwait(false);
            await context.Out.WriteLineAsync($"trsvcid: {e.TransportServiceId}").ConfigureAwait(false);
            await context.Out.WriteLineAsync($"subnqn:  {e.SubsystemNqn}").ConfigureAwait(false);
            await context.Out.WriteLineAsync($"traddr:  {e.TransportAddress}").ConfigureAwait(false);
            await context.Out.WriteLineAsync($"sectype: {Names.SecurityType(e.SecurityType)}").ConfigureAwait(false);
        }

        return 0;
    }

    private static async Task<int> ListSubsysAsync(VerbContext context, CancellationToken cancellationToken)
    {
        var json = FabricsOptions.Json(context.Options);
        var controller = await Session.ConnectAdminAsync(context, cancellationToken).ConfigureAwait(false);
        await using (controller.ConfigureAwait(false))
        {
            var o = controller.Options;
            var address = $"traddr={o.TargetAddress},trsvcid={o.TargetPort}";
            if (json)
            {
                await JsonOutput.WriteAsync(context.StandardOutput, w =>
                {
                    w.WriteStartArray();
                    w.WriteStartObject();
                    w.WriteString("HostNQN", o.HostNqn);
                    w.WriteString("HostID", o.HostId.ToString("D"));
                    w.WriteStartArray("Subsystems");
                    w.WriteStartObject();
                    w.WriteString("Name", "nvme-mptls");
                    w.WriteString("NQN", controller.Identify.SubsystemNqn);
                    w.WriteStartArray("Paths");
                    w.WriteStartObject();
                    w.WriteString("Name", $"cntlid{controller.ControllerId}");
                    w.WriteString("Transport", "tcp");
                    w.WriteString("Address", address);
                    w.WriteString("State", controller.State.ToString().ToLowerInvariant());
                    w.WriteEndObject();
                    w.WriteEndArray();
                    w.WriteEndObject();
                    w.WriteEndArray();
                    w.WriteEndObject();
                    w.WriteEndArray();
                }).ConfigureAwait(false);
                return 0;
            }

            await context.Out.WriteLineAsync($"nvme-mptls - NQN={controller.Identify.SubsystemNqn}").ConfigureAwait(false);
            await context.Out.WriteLineAsync($"             hostnqn={o.HostNqn}").ConfigureAwait(false);
            await context.Out.WriteLineAsync("\\").ConfigureAwait(false);
            await context.Out.WriteLineAsync($" +- cntlid {controller.ControllerId} tcp {address} {controller.State.ToString().ToLowerInvariant()}").ConfigureAwait(false);
            return 0;
        }
    }
}
