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

        context.Out.WriteLine();
        context.Out.WriteLine($"Discovery Log Number of Records {entries.Count}");
        for (var i = 0; i < entries.Count; i++)
        {
            var e = entries[i];
            context.Out.WriteLine($"=====Discovery Log Entry {i}======");
            context.Out.WriteLine($"trtype:  {Names.TransportType(e.TransportType)}");
            context.Out.WriteLine($"adrfam:  {Names.AddressFamily(e.AddressFamily)}");
            context.Out.WriteLine($"subtype: {Names.SubsystemType(e.SubsystemType)}");
            context.Out.WriteLine($"treq:    {Names.TransportRequirements(e.TransportRequirements)}");
            context.Out.WriteLine($"portid:  {e.PortId}");
            context.Out.WriteLine($"trsvcid: {e.TransportServiceId}");
            context.Out.WriteLine($"subnqn:  {e.SubsystemNqn}");
            context.Out.WriteLine($"traddr:  {e.TransportAddress}");
            context.Out.WriteLine($"sectype: {Names.SecurityType(e.SecurityType)}");
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

            context.Out.WriteLine($"nvme-mptls - NQN={controller.Identify.SubsystemNqn}");
            context.Out.WriteLine($"             hostnqn={o.HostNqn}");
            context.Out.WriteLine("\\");
            context.Out.WriteLine($" +- cntlid {controller.ControllerId} tcp {address} {controller.State.ToString().ToLowerInvariant()}");
            return 0;
        }
    }
}
