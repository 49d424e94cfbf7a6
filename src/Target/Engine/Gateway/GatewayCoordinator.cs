using Microsoft.Extensions.Logging;
using NvmeMptls.Target.Namespaces;
using NvmeMptls.Target.Subsystems;
using NvmeMptls.Transport.Nvme;

namespace NvmeMptls.Target.Gateway;

/// <summary>One ANA group the gateway group manages, and the member that takes it when it is free.</summary>
public sealed record GatewayAnaGroup(uint Id, string? PreferredOwner);

/// <summary>What one ANA group looks like from this gateway (status output and metrics).</summary>
public sealed record GatewayGroupStatus(uint AnaGroup, GatewayRole Role, string? Owner, double LeaseAgeSeconds, long FencedPeers, string? PreferredOwner);

/// <summary>
/// The gateway side of a gateway group in a target: one <see cref="GatewayGroupLease"/> per managed ANA group, whose
/// role sets that group's ANA state on every local port (owner: optimized; standby: the configured standby state;
/// uncertain or fenced: inaccessible) through <see cref="AnaGroups"/>, so ANA change notices and the log page's
/// change count follow. Groups not managed keep their configured states.
/// </summary>
public sealed class GatewayCoordinator : IAsyncDisposable
{
    private readonly TargetRegistry _registry;
    private readonly Dictionary<uint, GatewayGroupLease> _leases = [];
    private readonly Dictionary<uint, IGatewayLeaseStore> _stores = [];
    private readonly CancellationTokenSource _stop = new();
    private readonly List<Task> _loops = [];
    private volatile AnaState _standbyState;

    public GatewayCoordinator(TargetRegistry registry, GatewayLeaseSettings settings, IReadOnlyList<GatewayAnaGroup> groups, AnaState standbyState,
        Func<uint, IGatewayLeaseStore> openStore, TimeProvider time, ILoggerFactory loggerFactory)
    {
        ArgumentNullException.ThrowIfNull(registry);
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(groups);
        ArgumentNullException.ThrowIfNull(openStore);
        ArgumentNullException.ThrowIfNull(loggerFactory);
        _registry = registry;
        _standbyState = standbyState;
        Gateway = settings.Gateway;
        var logger = loggerFactory.CreateLogger<GatewayCoordinator>();
        try
        {
            foreach (var group in groups)
            {
                var store = openStore(group.Id);
                _stores[group.Id] = store;
                uint id = group.Id;
                _leases[id] = new GatewayGroupLease(id, settings, store, () => ImageAddresses(id), OnRoleChanged, time, logger, group.PreferredOwner);
            }
        }
        catch
        {
            foreach (var lease in _leases.Values)
            {
                lease.Dispose();
            }

            foreach (var store in _stores.Values)
            {
                store.Dispose();
            }

            _stop.Dispose();
            throw;
        }
    }

    public string Gateway { get; }

    public IReadOnlyCollection<uint> ManagedGroups => _leases.Keys;

    /// <summary>What the ports show for <paramref name="role"/>.</summary>
    public AnaState StateFor(GatewayRole role) => role switch
    {
        GatewayRole.Owner => AnaState.Optimized,
        GatewayRole.Standby => _standbyState,
        _ => AnaState.Inaccessible,
    };

    /// <summary>The managed groups' states now: applied over a port's configured states (start, reload, new port).</summary>
    public IReadOnlyDictionary<uint, AnaState> States()
    {
        var states = new Dictionary<uint, AnaState>();
        foreach (var (id, lease) in _leases)
        {
            states[id] = StateFor(lease.Role);
        }

        return states;
    }

    /// <summary>Sets every local port's state of every managed group (call before ports accept connections).</summary>
    public void ApplyToPorts()
    {
        foreach (var (id, lease) in _leases)
        {
            var state = StateFor(lease.Role);
            foreach (var port in _registry.Ports)
            {
                _registry.Ana.SetState(port.Id, id, state);
            }
        }
    }

    /// <summary>Live reload of the standby state: the standby groups' ports change at once.</summary>
    public void SetStandbyState(AnaState state)
    {
        _standbyState = state;
        ApplyToPorts();
    }

    /// <summary>Live reload of the preferred owners (groups not named keep theirs).</summary>
    public void SetPreferredOwners(IReadOnlyDictionary<uint, string?> owners)
    {
        ArgumentNullException.ThrowIfNull(owners);
        foreach (var (id, owner) in owners)
        {
            if (_leases.TryGetValue(id, out var lease))
            {
                lease.PreferredOwner = owner;
            }
        }
    }

    public void Start()
    {
        ApplyToPorts();
        foreach (var lease in _leases.Values)
        {
            _loops.Add(lease.RunAsync(_stop.Token));
        }
    }

    public IReadOnlyList<GatewayGroupStatus> Status() =>
        [.. _leases.Values.OrderBy(l => l.AnaGroup).Select(l => new GatewayGroupStatus(l.AnaGroup, l.Role, l.Owner, l.LeaseAgeSeconds, l.FencedPeers, l.PreferredOwner))];

    /// <summary>Planned move of one group this gateway owns to <paramref name="target"/> (a member name).</summary>
    public Task<(bool Done, string Detail)> MoveAsync(uint anaGroup, string target)
    {
        if (!_leases.TryGetValue(anaGroup, out var lease))
        {
            return Task.FromResult((false, $"ANA group {anaGroup} is not managed by gateway group member {Gateway}"));
        }

        if (target == Gateway)
        {
            return Task.FromResult((lease.Role == GatewayRole.Owner, lease.Role == GatewayRole.Owner
                ? $"ANA group {anaGroup} is already owned by {Gateway}" : $"ANA group {anaGroup} is owned by {lease.Owner ?? "nobody"}; ask its owner to move it"));
        }

        return Task.Run(() => (lease.Release(target, out string detail), detail));
    }

    /// <summary>Moves every group this gateway owns to <paramref name="target"/>.</summary>
    public async Task<(bool Done, string Detail)> DrainAsync(string target)
    {
        var lines = new List<string>();
        bool ok = true;
        foreach (var lease in _leases.Values.Where(l => l.Role == GatewayRole.Owner).ToList())
        {
            var (done, detail) = await MoveAsync(lease.AnaGroup, target).ConfigureAwait(false);
            ok &= done;
            lines.Add(detail);
        }

        return (ok, lines.Count == 0 ? $"{Gateway} owns no ANA group" : string.Join('\n', lines));
    }

    private void OnRoleChanged(uint anaGroup, GatewayRole role)
    {
        var state = StateFor(role);
        foreach (var port in _registry.Ports)
        {
            _registry.Ana.SetState(port.Id, anaGroup, state);
        }
    }

    /// <summary>The Ceph client addresses of the RBD images of the group's namespaces (what a taker must fence).</summary>
    private List<string> ImageAddresses(uint anaGroup)
    {
        var addresses = new List<string>();
        foreach (var subsystem in _registry.Subsystems)
        {
            foreach (var ns in subsystem.Namespaces)
            {
                if (ns.AnaGroupId == anaGroup && ns.Device is RbdBlockDevice rbd)
                {
                    try
                    {
                        addresses.AddRange(GatewayCookie.ParseClientAddresses(rbd.ClientAddresses()));
                    }
                    catch (Exception ex) when (ex is IOException or ObjectDisposedException)
                    {
                        // A namespace going away has no client left to fence.
                    }
                }
            }
        }

        return addresses;
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        await Task.WhenAll(_loops).ConfigureAwait(false);
        foreach (var lease in _leases.Values)
        {
            lease.Dispose();
        }

        foreach (var store in _stores.Values)
        {
            store.Dispose();
        }

        _stop.Dispose();
    }
}
