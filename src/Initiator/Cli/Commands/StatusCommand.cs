using System.Globalization;
using NvmeMptls.Cli.Output;
using NvmeMptls.Initiator;

namespace NvmeMptls.Cli.Commands;

/// <summary><c>nvme-mptls status</c>: connects and shows how each queue is carried — MPTCP or fallback, subflows, TLS.</summary>
public static class StatusCommand
{
    public static Verb Status { get; } = new("status", "connect and show each queue's transport: MPTCP subflows, fallback, TLS; with --control, the gateway group",
        [.. FabricsOptions.Common(), new("control", null, true, "a gateway group member's metrics/control URL: also show each ANA group's owner, lease age, fenced peers", "URL")],
        StatusAsync);

    private static async Task<int> StatusAsync(VerbContext context, CancellationToken cancellationToken)
    {
        var json = FabricsOptions.Json(context.Options);
        var controller = await Session.ConnectIoAsync(context, cancellationToken).ConfigureAwait(false);
        await using (controller.ConfigureAwait(false))
        {
            var paths = controller.GetQueuePaths();
            if (json)
            {
                await JsonOutput.WriteAsync(context.StandardOutput, w =>
                {
                    w.WriteStartObject();
                    w.WriteString("subnqn", controller.Options.SubsystemNqn);
                    w.WriteNumber("cntlid", controller.ControllerId);
                    w.WriteStartArray("queues");
                    foreach (var p in paths)
                    {
                        w.WriteStartObject();
                        w.WriteNumber("qid", p.QueueId);
                        w.WriteString("transport", p.Transport);
                        w.WriteString("mode", p.Multipath?.Mode.ToString().ToLowerInvariant() ?? "none");
                        if (p.Multipath?.FallbackReason is { } reason)
                        {
                            w.WriteString("fallback_reason", reason);
                        }

                        if (p.Tls is { } tls)
                        {
                            w.WriteString("tls_identity", tls.PskIdentity);
                            w.WriteString("tls_cipher", tls.CipherSuiteName);
                            w.WriteString("tls_seal_provider", tls.SealProvider);
                            w.WriteString("tls_open_provider", tls.OpenProvider);
                        }

                        w.WriteStartArray("subflows");
                        foreach (var s in p.Multipath?.Subflows ?? [])
                        {
                            w.WriteStartObject();
                            w.WriteString("local", s.Local.ToString());
                            w.WriteString("remote", s.Remote.ToString());
                            w.WriteString("state", s.State);
                            w.WriteNumber("bytes_sent", s.BytesSent);
                            w.WriteNumber("bytes_acked", s.BytesAcked);
                            w.WriteNumber("bytes_received", s.BytesReceived);
                            w.WriteNumber("rtt_us", (long)(s.Rtt.TotalMilliseconds * 1000));
                            w.WriteEndObject();
                        }

                        w.WriteEndArray();
                        w.WriteEndObject();
                    }

                    w.WriteEndArray();
                    w.WriteEndObject();
                }).ConfigureAwait(false);
                return 0;
            }

            WriteText(context.Out, controller, paths);
            if (context.Options.Get("control") is { } control && Uri.TryCreate(control, UriKind.Absolute, out var url))
            {
                using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };
                string body = await http.GetStringAsync(new UriBuilder(url.Scheme, url.Host, url.Port, "/gateway/status").Uri, cancellationToken).ConfigureAwait(false);
                await GatewayCommands.WriteStatusAsync(context.Out, body).ConfigureAwait(false);
            }

            return 0;
        }
    }

    /// <summary>The human-readable listing: one line per queue with its transport and mode, TLS session, subflows.</summary>
    public static void WriteText(TextWriter o, NvmeController controller, IReadOnlyList<QueuePath> paths)
    {
        ArgumentNullException.ThrowIfNull(o);
        ArgumentNullException.ThrowIfNull(controller);
        ArgumentNullException.ThrowIfNull(paths);
        o.WriteLine($"{controller.Options.SubsystemNqn} controller {controller.ControllerId} at {controller.Options.TargetAddress}:{controller.Options.TargetPort}");
        foreach (var p in paths)
        {
            var mode = p.Multipath?.Mode.ToString() ?? "none";
            o.WriteLine($"  queue {p.QueueId,-3} {p.Transport,-22} mode {mode}{(p.Multipath?.FallbackReason is { } r ? $" ({r})" : "")}");
            if (p.Tls is { } tls)
            {
                o.WriteLine($"            TLS {tls.CipherSuiteName}, seal {tls.SealProvider}, open {tls.OpenProvider}, identity {tls.PskIdentity}");
            }

            foreach (var s in p.Multipath?.Subflows ?? [])
            {
                o.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"            subflow {s.Local} -> {s.Remote} {s.State}, sent {s.BytesSent} B, acked {s.BytesAcked} B, received {s.BytesReceived} B, rtt {s.Rtt.TotalMilliseconds:0.###} ms"));
            }
        }
    }
}
