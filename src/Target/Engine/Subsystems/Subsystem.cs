using System.Collections.Concurrent;

namespace NvmeMptls.Target.Subsystems;

/// <summary>An NVM subsystem (or the discovery subsystem): identity, access list, namespaces and live controllers.</summary>
public sealed class Subsystem
{
    private readonly ConcurrentDictionary<uint, TargetNamespace> _namespaces = new();
    private readonly ConcurrentDictionary<ushort, Controllers.TargetController> _controllers = new();
    private volatile HostAccess _access;

    public Subsystem(string nqn, string serial, string model, bool isDiscovery, HostAccess access)
    {
        Nqn = nqn;
        Serial = serial;
        Model = model;
        IsDiscovery = isDiscovery;
        _access = access;
    }

    public string Nqn { get; }
    public string Serial { get; }
    public string Model { get; }
    public bool IsDiscovery { get; }

    public HostAccess Access
    {
        get => _access;
        set => _access = value;
    }

    public bool AllowsHost(string hostNqn) => _access.AllowAny || _access.Hosts.Contains(hostNqn);

    public TargetNamespace? FindNamespace(uint nsid) =>
        _namespaces.TryGetValue(nsid, out var ns) && !ns.Removed ? ns : null;

    /// <summary>Active NSIDs in ascending order.</summary>
    public uint[] ActiveNsids()
    {
        var list = new List<uint>(_namespaces.Count);
        foreach (var (nsid, ns) in _namespaces)
        {
            if (!ns.Removed)
            {
                list.Add(nsid);
            }
        }

        list.Sort();
        return [.. list];
    }

    public IEnumerable<TargetNamespace> Namespaces => _namespaces.Values;

    /// <summary>Adds a namespace and tells every connected controller (Namespace Attribute Changed notice).</summary>
    public bool AddNamespace(TargetNamespace ns)
    {
        if (!_namespaces.TryAdd(ns.Nsid, ns))
        {
            return false;
        }

        ns.Resized = resized => NotifyNamespaceChanged(resized.Nsid);
        ns.Reservations.NoticesRaised = notices => NotifyReservation(ns.Nsid, notices);
        Ana?.MembershipChanged(ns.AnaGroupId, notify: false);
        NotifyNamespaceChanged(ns.Nsid);
        return true;
    }

    /// <summary>Removes a namespace: new I/O gets Invalid Namespace, in-flight I/O drains, then the device closes.</summary>
    public async Task<bool> RemoveNamespaceAsync(uint nsid, TimeSpan drainTimeout)
    {
        if (!_namespaces.TryGetValue(nsid, out var ns))
        {
            return false;
        }

        var removal = ns.RemoveAsync(drainTimeout);
        NotifyNamespaceChanged(nsid);
        await removal.ConfigureAwait(false);
        _namespaces.TryRemove(nsid, out _);
        Ana?.MembershipChanged(ns.AnaGroupId, notify: false);
        return true;
    }

    /// <summary>The registry's ANA groups, set when the subsystem is added to a registry.</summary>
    internal AnaGroups? Ana { get; set; }

    /// <summary>Moves a live namespace to another ANA group (live reload): its state on each port may change, so every controller is told.</summary>
    public bool SetAnaGroup(uint nsid, uint anaGroupId)
    {
        if (!AnaGroups.IsValidGroupId(anaGroupId))
        {
            throw new ArgumentOutOfRangeException(nameof(anaGroupId), anaGroupId, $"ANA group ids are 1..{AnaGroups.MaxGroupId}");
        }

        if (FindNamespace(nsid) is not { } ns || ns.AnaGroupId == anaGroupId)
        {
            return false;
        }

        var old = ns.AnaGroupId;
        ns.AnaGroupId = anaGroupId;
        Ana?.MembershipChanged(old, notify: false);
        if (Ana is { } ana)
        {
            ana.MembershipChanged(anaGroupId, notify: true);
        }
        else
        {
            foreach (var controller in _controllers.Values)
            {
                controller.OnAnaChanged();
            }
        }

        return true;
    }

    public IEnumerable<Controllers.TargetController> Controllers => _controllers.Values;

    internal void Attach(Controllers.TargetController controller) => _controllers[controller.ControllerId] = controller;

    internal void Detach(Controllers.TargetController controller) => _controllers.TryRemove(controller.ControllerId, out _);

    internal Controllers.TargetController? FindController(ushort cntlid) =>
        _controllers.TryGetValue(cntlid, out var c) ? c : null;

    /// <summary>Delivers reservation notices to every controller of each host they name.</summary>
    internal void NotifyReservation(uint nsid, IReadOnlyList<ReservationNotice> notices)
    {
        foreach (var notice in notices)
        {
            foreach (var controller in _controllers.Values)
            {
                if (controller.HostId == notice.HostId)
                {
                    controller.OnReservationNotice(nsid, notice.Type);
                }
            }
        }
    }

    /// <summary>A controller of <paramref name="hostId"/> (for the reservation report), or FFFFh when none is connected.</summary>
    internal ushort ControllerOf(Guid hostId)
    {
        foreach (var controller in _controllers.Values)
        {
            if (controller.HostId == hostId)
            {
                return controller.ControllerId;
            }
        }

        return 0xFFFF;
    }

    private void NotifyNamespaceChanged(uint nsid)
    {
        foreach (var controller in _controllers.Values)
        {
            controller.OnNamespaceChanged(nsid);
        }
    }
}

/// <summary>Which hosts may connect: any, or those listed (host NQNs).</summary>
public sealed record HostAccess(bool AllowAny, IReadOnlySet<string> Hosts)
{
    public static HostAccess Any { get; } = new(true, new HashSet<string>());
}
