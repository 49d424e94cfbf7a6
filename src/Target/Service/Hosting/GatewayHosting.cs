using Microsoft.Extensions.Logging;
using NvmeMptls.Target.Configuration;
using NvmeMptls.Target.Gateway;
using NvmeMptls.Target.Subsystems;

namespace NvmeMptls.Target.Hosting;

/// <summary>Target:Gateway → the engine's <see cref="GatewayCoordinator"/> with one RADOS lease store per managed ANA group.</summary>
internal static class GatewayHosting
{
    /// <summary>
    /// The other members' ports as discovery log entries: port ids 4096 + 16·member index + port index, so they do
    /// not meet this target's own configured ids.
    /// </summary>
    public static List<TargetPortInfo> PeerPorts(GatewayOptions options)
    {
        var ports = new List<TargetPortInfo>();
        for (int m = 0; m < options.Members.Length; m++)
        {
            var member = options.Members[m];
            if (member.Name == options.Name)
            {
                continue;
            }

            for (int p = 0; p < member.Ports.Length; p++)
            {
                var port = member.Ports[p];
                ports.Add(new TargetPortInfo((ushort)(4096 + (16 * m) + p), port.Address, port.Port, port.Tls ? PortTlsMode.Required : PortTlsMode.None));
            }
        }

        return ports;
    }

    public static GatewayCoordinator Create(GatewayOptions options, TargetRegistry registry, ILoggerFactory loggerFactory, TimeProvider time)
    {
        var settings = new GatewayLeaseSettings
        {
            Gateway = options.Name,
            Duration = options.LeaseDuration,
            SafetyMargin = options.EffectiveSafetyMargin,
        };
        // A lease call that does not answer within a poll interval is as good as failed (the next poll tries again).
        var location = new RadosLeaseLocation(options.Pool, options.RadosNamespace, options.CephConf, options.CephId,
            TimeSpan.FromSeconds(Math.Max(1, settings.PollInterval.TotalSeconds)));
        var groups = options.AnaGroups.Select(g => new GatewayAnaGroup(g.Id, g.PreferredOwner)).ToList();
        return new GatewayCoordinator(registry, settings, groups, options.StandbyState,
            id => RadosLeaseStore.Open(location, RadosLeaseStore.ObjectNameFor(options.Group, id)), time, loggerFactory);
    }
}
