using NvmeMptls.Target.Gateway;
using Prometheus;

namespace NvmeMptls.Target.Metrics;

/// <summary>
/// The gateway group's state at scrape time: who owns each managed ANA group as this gateway sees it, its own role,
/// the lease age and the peers it fenced (rows in deploy/README.md).
/// </summary>
internal sealed class GatewayMetrics
{
    private readonly GatewayCoordinator _gateway;
    private readonly Gauge _owner;
    private readonly Gauge _role;
    private readonly Gauge _leaseAge;
    private readonly Gauge _fenced;
    private readonly Dictionary<uint, string> _lastOwner = [];

    public GatewayMetrics(TargetMetrics metrics, GatewayCoordinator gateway)
    {
        _gateway = gateway;
        _owner = metrics.Factory.CreateGauge("nvmemptls_gateway_group_owner",
            "1 for the member this gateway sees owning the ANA group (owner label; 'none' when nobody holds the lease).", ["group", "owner"]);
        _role = metrics.Factory.CreateGauge("nvmemptls_gateway_group_role",
            "1 for this gateway's role for the ANA group: owner, standby, uncertain (renewal not confirmed: inaccessible) or fenced.", ["group", "role"]);
        _leaseAge = metrics.Factory.CreateGauge("nvmemptls_gateway_lease_age_seconds",
            "Seconds since this gateway last confirmed its lease (owner) or saw the owner's (standby); -1 when never.", ["group"]);
        _fenced = metrics.Factory.CreateGauge("nvmemptls_gateway_fenced_peers_total",
            "Previous owners this gateway fenced (blocklisted) when taking the ANA group over.", ["group"]);
        metrics.Registry.AddBeforeCollectCallback(Sample);
    }

    private void Sample()
    {
        lock (_lastOwner)
        {
            foreach (var status in _gateway.Status())
            {
                string group = status.AnaGroup.ToString(System.Globalization.CultureInfo.InvariantCulture);
                string owner = status.Owner ?? "none";
                if (_lastOwner.TryGetValue(status.AnaGroup, out var before) && before != owner)
                {
                    _owner.RemoveLabelled(group, before);
                }

                _lastOwner[status.AnaGroup] = owner;
                _owner.WithLabels(group, owner).Set(1);
                foreach (var role in Enum.GetValues<GatewayRole>())
                {
                    _role.WithLabels(group, GatewayRoles.Name(role)).Set(role == status.Role ? 1 : 0);
                }

                _leaseAge.WithLabels(group).Set(status.LeaseAgeSeconds);
                _fenced.WithLabels(group).Set(status.FencedPeers);
            }
        }
    }
}
