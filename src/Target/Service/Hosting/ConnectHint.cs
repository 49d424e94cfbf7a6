using System.Text;
using NvmeMptls.Target.Configuration;
using NvmeMptls.Target.Server;

namespace NvmeMptls.Target.Hosting;

/// <summary>The "how to connect" text printed at start-up.</summary>
public static class ConnectHint
{
    public static string Describe(TargetOptions options, NvmeTargetServer server)
    {
        var sb = new StringBuilder();
        sb.AppendLine("nvme-mptls-target is serving:");
        foreach (var (ep, discovery, carrier) in server.Endpoints)
        {
            sb.Append("  ").Append(discovery ? "discovery " : "I/O       ").Append(ep).Append(" (").Append(carrier).AppendLine(")");
        }

        var first = options.Ports[0];
        var io = server.Endpoints.FirstOrDefault(e => !e.Discovery).EndPoint;
        var disc = server.Endpoints.FirstOrDefault(e => e.Discovery).EndPoint;
        foreach (var s in options.Subsystems)
        {
            sb.Append("  subsystem ").Append(s.Nqn).Append(": ").Append(s.Namespaces.Length).AppendLine(" namespace(s)");
        }

        sb.Append("  runtime: ").AppendLine(RuntimeSettings());
        sb.AppendLine("Connect with:");
        var tls = first.Tls == TlsMode.None ? "" : " --tls --tls-key <KEY>";
        if (disc is not null)
        {
            sb.Append("  nvme-mptls discover -a ").Append(disc.Address).Append(" -s ").Append(disc.Port).AppendLine(tls);
        }

        if (io is not null)
        {
            sb.Append("  nvme-mptls id-ctrl -a ").Append(io.Address).Append(" -s ").Append(io.Port).Append(" -n ").Append(options.Subsystems[0].Nqn).AppendLine(tls);
            sb.Append("  nvme connect -t tcp -a ").Append(io.Address).Append(" -s ").Append(io.Port).Append(" -n ").Append(options.Subsystems[0].Nqn).Append(first.Tls == TlsMode.None ? "" : " --tls").AppendLine("   (Linux host)");
        }

        return sb.ToString().TrimEnd();
    }

    /// <summary>
    /// The runtime settings that decide the data path's speed, as this process runs with them: where socket completions
    /// run (SocketEngineSettings) and whether tiered compilation is on (the runtimeconfig, or DOTNET_TieredCompilation).
    /// </summary>
    public static string RuntimeSettings()
    {
        var tiered = Environment.GetEnvironmentVariable("DOTNET_TieredCompilation") switch
        {
            "0" => false,
            "1" => true,
            _ => AppContext.GetData("System.Runtime.TieredCompilation") is not string s || !bool.TryParse(s, out var on) || on,
        };
        return $"socket completions {(NvmeMptls.Transport.Sockets.SocketEngineSettings.InlineCompletions ? "inline (epoll thread)" : "on the thread pool")}, tiered compilation {(tiered ? "on" : "off")}";
    }
}
