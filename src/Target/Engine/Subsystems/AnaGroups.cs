using System.Collections.Concurrent;
using NvmeMptls.Transport.Nvme;

namespace NvmeMptls.Target.Subsystems;

/// <summary>
/// Asymmetric Namespace Access of this target (NVMe Base 2.0 §8.1): every namespace belongs to one ANA group
/// (1..<see cref="MaxGroupId"/>), and every port has its own state for each group, as Linux nvmet keeps
/// <c>ports/N/ana_groups/G/ana/state</c>. A group a port was not told about is optimized there, so a target configured
/// without ANA serves every namespace on every port as before. Each change increments the change count the log page
/// reports and tells the controllers whose admin queue is on the changed port (ANA Change notice).
/// </summary>
public sealed class AnaGroups
{
    /// <summary>ANAGRPMAX and NANAGRPID: group ids 1..128, as Linux nvmet (NVMET_MAX_ANAGRPS).</summary>
    public const uint MaxGroupId = 128;

    /// <summary>The group a namespace joins unless configured otherwise.</summary>
    public const uint DefaultGroupId = 1;

    private static readonly AnaState[] AllOptimized = CreateStates();

    private readonly object _lock = new();
    private readonly ConcurrentDictionary<ushort, AnaState[]> _ports = new();
    private readonly ulong[] _groupChangeCounts = new ulong[MaxGroupId + 1];
    private readonly SortedSet<uint> _namedGroups = [DefaultGroupId];
    private readonly Action<ushort?> _changed;
    private ulong _changeCount = 1;
    private byte _transitionTime = 10;

    /// <param name="changed">Called after a change, outside the lock, with the port whose states changed (null: every port).</param>
    public AnaGroups(Action<ushort?> changed)
    {
        _changed = changed;
    }

    /// <summary>CHGCNT of the log page: starts at 1, incremented on every change of a state or of a group's namespaces.</summary>
    public ulong ChangeCount
    {
        get
        {
            lock (_lock)
            {
                return _changeCount;
            }
        }
    }

    /// <summary>ANATT in seconds (1..255): how long a group may stay in the change state before a host gives up on it.</summary>
    public byte TransitionTimeSeconds
    {
        get => Volatile.Read(ref _transitionTime);
        set => Volatile.Write(ref _transitionTime, value == 0 ? (byte)1 : value);
    }

    public static bool IsValidGroupId(uint groupId) => groupId is >= 1 and <= MaxGroupId;

    /// <summary>The state of <paramref name="groupId"/> on <paramref name="portId"/>: one lookup, no allocation (checked per I/O).</summary>
    public AnaState StateOf(ushort portId, uint groupId)
    {
        if (groupId > MaxGroupId)
        {
            return AnaState.Inaccessible;
        }

        return _ports.TryGetValue(portId, out var states) ? states[groupId] : AnaState.Optimized;
    }

    /// <summary>The change count of one group's descriptor: the value <see cref="ChangeCount"/> had at the group's last change.</summary>
    public ulong GroupChangeCount(uint groupId)
    {
        lock (_lock)
        {
            return groupId <= MaxGroupId ? _groupChangeCounts[groupId] : 0;
        }
    }

    /// <summary>Groups named in some port's configuration (always including the default group), ascending.</summary>
    public uint[] NamedGroups()
    {
        lock (_lock)
        {
            return [.. _namedGroups];
        }
    }

    /// <summary>Sets one group's state on one port; an unchanged state changes nothing and tells no one.</summary>
    public void SetState(ushort portId, uint groupId, AnaState state)
    {
        ArgumentOutOfRangeException.ThrowIfZero(groupId);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(groupId, MaxGroupId);
        bool changed;
        lock (_lock)
        {
            var current = _ports.TryGetValue(portId, out var s) ? s : AllOptimized;
            _namedGroups.Add(groupId);
            changed = current[groupId] != state;
            if (changed)
            {
                var next = (AnaState[])current.Clone();
                next[groupId] = state;
                _ports[portId] = next;
                Bump(groupId);
            }
        }

        if (changed)
        {
            _changed(portId);
        }
    }

    /// <summary>
    /// Replaces a port's states (configuration load or live reload): listed groups take the given state, the others
    /// are optimized. Controllers on the port are told only when some state really changed.
    /// </summary>
    public void SetPortStates(ushort portId, IReadOnlyDictionary<uint, AnaState> states)
    {
        var next = CreateStates();
        foreach (var (group, state) in states)
        {
            if (!IsValidGroupId(group))
            {
                throw new ArgumentOutOfRangeException(nameof(states), group, $"ANA group ids are 1..{MaxGroupId}");
            }

            next[group] = state;
        }

        var changed = false;
        lock (_lock)
        {
            var current = _ports.TryGetValue(portId, out var s) ? s : AllOptimized;
            foreach (var group in states.Keys)
            {
                _namedGroups.Add(group);
            }

            for (var g = 1u; g <= MaxGroupId; g++)
            {
                if (current[g] != next[g])
                {
                    Bump(g);
                    changed = true;
                }
            }

            _ports[portId] = next;
        }

        if (changed)
        {
            _changed(portId);
        }
    }

    /// <summary>A port was removed: its states are forgotten (a port added again starts all optimized).</summary>
    public void RemovePort(ushort portId) => _ports.TryRemove(portId, out _);

    /// <summary>
    /// A namespace joined or left <paramref name="groupId"/>: the group's NSID list changed on every port. Adding or
    /// removing a namespace is announced by its own notice (a host rescanning re-reads log 0Ch, as Linux does); moving a
    /// live namespace to another group (<paramref name="notify"/>) changes its state on some ports, so every controller hears of it.
    /// </summary>
    public void MembershipChanged(uint groupId, bool notify)
    {
        lock (_lock)
        {
            Bump(groupId);
        }

        if (notify)
        {
            _changed(null);
        }
    }

    private void Bump(uint groupId)
    {
        _changeCount = unchecked(_changeCount + 1);
        if (groupId <= MaxGroupId)
        {
            _groupChangeCounts[groupId] = _changeCount;
        }
    }

    private static AnaState[] CreateStates()
    {
        var states = new AnaState[MaxGroupId + 1];
        Array.Fill(states, AnaState.Optimized);
        return states;
    }
}
