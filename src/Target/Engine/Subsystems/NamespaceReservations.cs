using NvmeMptls.Transport.Nvme;

namespace NvmeMptls.Target.Subsystems;

/// <summary>A reservation notice for one host: Registration Preempted, Reservation Released or Reservation Preempted.</summary>
public readonly record struct ReservationNotice(Guid HostId, byte Type);

/// <summary>
/// Persistent reservations of one namespace (NVMe Base 2.0 §8.19): registrants by host identifier (every controller
/// of a host shares its registration), the reservation's type and holder, the generation and PTPL. Commands run
/// under one lock; the per-I/O access check reads an immutable view without locking or allocating. With a store,
/// every change is saved before the command completes (a failed save leaves the state as it was), and a restart
/// keeps the state when PTPL is set. With a store shared by several gateways (<see cref="ISharedReservationStore"/>)
/// a change is a compare-and-set on the stored version (retried on the newer state when another gateway won) and
/// is broadcast, so every gateway enforces it before the command completes; see NamespaceReservations.Shared.cs.
/// </summary>
public sealed partial class NamespaceReservations
{
    private readonly object _lock = new();
    private readonly Dictionary<Guid, ulong> _registrants = [];
    private readonly IReservationStore? _store;
    private ReservationType _type;
    private Guid _holder;
    private uint _generation;
    private bool _ptpl;
    private AccessView _view = AccessView.Open;

    // Set by an operation that changed the state (saved by Change), and the hosts a Preempt and Abort removed.
    private bool _dirty;
    private List<Guid>? _abortHosts;

    /// <param name="store">Where the state persists (null: memory only, PTPL not supported).</param>
    public NamespaceReservations(IReservationStore? store = null)
    {
        _store = store;
        if (store is ISharedReservationStore shared)
        {
            // The state of a namespace served by a gateway group is the group's: a gateway (re)starting adopts it
            // whatever PTPL says, since the other gateways did not lose power.
            _shared = shared;
            _freshUntil = 0;
            var saved = shared.LoadVersioned();
            RestoreLocked(saved.Snapshot);
            _version = saved.Version;
            Publish([]);
            shared.Start(this);
        }
        else if (store?.Load() is { PersistThroughPowerLoss: true } saved)
        {
            // NVMe Base 2.0 §8.19.7: with PTPL set the registrations and the reservation survive a power loss.
            RestoreLocked(saved);
            Publish([]);
        }
    }

    /// <summary>True when a store keeps the state across restarts (RESCAP bit 0, feature 84h changeable).</summary>
    public bool PersistenceSupported => _store is not null;

    public bool PersistThroughPowerLoss
    {
        get
        {
            lock (_lock)
            {
                ApplyPendingLocked();
                return _ptpl;
            }
        }
    }

    /// <summary>
    /// NVMe Base 2.0 §8.19.1, Figure 421: whether <paramref name="hostId"/> may run a read (or, with
    /// <paramref name="write"/>, a write) now. Lock-free, allocation-free: called for every I/O.
    /// </summary>
    public bool Conflicts(Guid hostId, bool write)
    {
        var view = Volatile.Read(ref _view);
        if (view.Type == ReservationType.None)
        {
            return false;
        }

        var hasAccess = ReservationTypes.RegistrantsHaveAccess(view.Type) ? view.Registrants.Contains(hostId) : view.Holder == hostId;
        return !hasAccess && (write || ReservationTypes.ExclusiveAccess(view.Type));
    }

    /// <summary>Reservation Register (NVMe Base 2.0 §7.5).</summary>
    public NvmeStatus Register(Guid host, ReservationCommand command, ulong currentKey, ulong newKey, List<ReservationNotice> notices)
    {
        if (command.ChangePtpl == 1 || command.Action > ReservationCommand.ReplaceAction
            || (command.ChangePtpl == ReservationCommand.PtplSet && _store is null))
        {
            return Dnr(NvmeStatusCodes.InvalidField);
        }

        return Change(notices, () => RegisterLocked(host, command, currentKey, newKey, notices));
    }

    private NvmeStatus RegisterLocked(Guid host, ReservationCommand command, ulong currentKey, ulong newKey, List<ReservationNotice> notices)
    {
        var registered = _registrants.TryGetValue(host, out var key);
        switch (command.Action)
        {
            case ReservationCommand.RegisterAction:
                if (registered)
                {
                    // Registering again with the same key succeeds and changes nothing; another key conflicts.
                    return key == newKey ? ChangePtplLocked(command) : Dnr(NvmeStatusCodes.ReservationConflict);
                }

                _registrants[host] = newKey;
                break;
            case ReservationCommand.UnregisterAction:
                if (!registered || (!command.IgnoreExistingKey && key != currentKey))
                {
                    return Dnr(NvmeStatusCodes.ReservationConflict);
                }

                _registrants.Remove(host);
                LeaveLocked(host, notices);
                break;
            default:
                if (!registered && !command.IgnoreExistingKey || registered && !command.IgnoreExistingKey && key != currentKey)
                {
                    return Dnr(NvmeStatusCodes.ReservationConflict);
                }

                _registrants[host] = newKey;
                break;
        }

        _generation++;
        return ChangePtplLocked(command);
    }

    /// <summary>Reservation Acquire: acquire, preempt, preempt and abort (NVMe Base 2.0 §7.3, §8.19.5–§8.19.6).</summary>
    public NvmeStatus Acquire(Guid host, ReservationCommand command, ulong currentKey, ulong preemptKey, List<ReservationNotice> notices)
    {
        if (command.Action > ReservationCommand.PreemptAndAbortAction || !ReservationTypes.IsDefined((byte)command.Type))
        {
            return Dnr(NvmeStatusCodes.InvalidField);
        }

        return Change(notices, () => AcquireLocked(host, command, currentKey, preemptKey, notices));
    }

    private NvmeStatus AcquireLocked(Guid host, ReservationCommand command, ulong currentKey, ulong preemptKey, List<ReservationNotice> notices)
    {
        if (!_registrants.TryGetValue(host, out var key) || (!command.IgnoreExistingKey && key != currentKey))
        {
            return Dnr(NvmeStatusCodes.ReservationConflict);
        }

        if (command.Action == ReservationCommand.AcquireAction)
        {
            if (_type == ReservationType.None)
            {
                _type = command.Type;
                _holder = host;
                return SavedLocked();
            }

            var holds = _holder == host || ReservationTypes.AllRegistrantsHold(_type);
            return holds && _type == command.Type ? NvmeStatus.Success : Dnr(NvmeStatusCodes.ReservationConflict);
        }

        return PreemptLocked(host, command.Type, preemptKey, notices, command.Action == ReservationCommand.PreemptAndAbortAction);
    }

    /// <summary>Reservation Release: release or clear (NVMe Base 2.0 §7.4, §8.19.8–§8.19.9).</summary>
    public NvmeStatus Release(Guid host, ReservationCommand command, ulong currentKey, List<ReservationNotice> notices)
    {
        if (command.Action > ReservationCommand.ClearAction)
        {
            return Dnr(NvmeStatusCodes.InvalidField);
        }

        return Change(notices, () => ReleaseCommandLocked(host, command, currentKey, notices));
    }

    private NvmeStatus ReleaseCommandLocked(Guid host, ReservationCommand command, ulong currentKey, List<ReservationNotice> notices)
    {
        if (!_registrants.TryGetValue(host, out var key) || (!command.IgnoreExistingKey && key != currentKey))
        {
            return Dnr(NvmeStatusCodes.ReservationConflict);
        }

        if (command.Action == ReservationCommand.ClearAction)
        {
            foreach (var other in _registrants.Keys)
            {
                if (other != host)
                {
                    notices.Add(new ReservationNotice(other, ReservationNotificationLog.TypeReservationPreempted));
                }
            }

            _registrants.Clear();
            _type = ReservationType.None;
            _holder = Guid.Empty;
            _generation++;
            return SavedLocked();
        }

        var holds = _type != ReservationType.None && (_holder == host || ReservationTypes.AllRegistrantsHold(_type));
        if (!holds)
        {
            return NvmeStatus.Success; // §8.19.8: releasing a reservation one does not hold changes nothing
        }

        if (command.Type != _type)
        {
            return Dnr(NvmeStatusCodes.InvalidField);
        }

        ReleaseLocked(host, notices);
        return SavedLocked();
    }

    /// <summary>Reservation Report: every registrant with its key, host identifier and one of its controllers.</summary>
    public ReservationReport Report(Func<Guid, ushort> controllerOf)
    {
        lock (_lock)
        {
            ApplyPendingLocked();
            var entries = new List<ReservationRegistrant>(_registrants.Count);
            foreach (var (host, key) in _registrants)
            {
                var holds = _type != ReservationType.None && (_holder == host || ReservationTypes.AllRegistrantsHold(_type));
                entries.Add(new ReservationRegistrant(controllerOf(host), holds, host, key));
            }

            return new ReservationReport(_generation, _type, _ptpl, entries);
        }
    }

    /// <summary>Set Features 84h: PTPL on or off (needs a store to turn on).</summary>
    public bool TrySetPersistThroughPowerLoss(bool value)
    {
        if (value && _store is null)
        {
            return false;
        }

        Change([], () =>
        {
            _ptpl = value;
            return SavedLocked();
        });
        return true;
    }

    private NvmeStatus PreemptLocked(Guid host, ReservationType type, ulong preemptKey, List<ReservationNotice> notices, bool abort)
    {
        var removed = new List<Guid>();

        // §8.19.7: Preempt and Abort also aborts the commands of the hosts whose registrations it removes.
        _abortHosts = abort ? removed : null;
        if (_type != ReservationType.None && ReservationTypes.AllRegistrantsHold(_type) && preemptKey == 0)
        {
            // §8.19.6: preempting an All Registrants reservation with PRKEY 0 removes every other registrant.
            foreach (var other in _registrants.Keys)
            {
                if (other != host)
                {
                    removed.Add(other);
                }
            }

            Unregister(removed, notices);
            _type = type;
            _holder = host;
        }
        else if (_type != ReservationType.None && !ReservationTypes.AllRegistrantsHold(_type) && _registrants.TryGetValue(_holder, out var holderKey) && holderKey == preemptKey)
        {
            // The holder's key: its reservation passes to this host with the new type; registrants with that key go.
            foreach (var (other, key) in _registrants)
            {
                if (other != host && key == preemptKey)
                {
                    removed.Add(other);
                }
            }

            Unregister(removed, notices);
            foreach (var other in _registrants.Keys)
            {
                if (other != host && (_holder != host || _type != type))
                {
                    notices.Add(new ReservationNotice(other, ReservationNotificationLog.TypeReservationPreempted));
                }
            }

            _type = type;
            _holder = host;
        }
        else
        {
            if (preemptKey == 0 && _type != ReservationType.None)
            {
                return Dnr(NvmeStatusCodes.InvalidField);
            }

            foreach (var (other, key) in _registrants)
            {
                if (other != host && key == preemptKey)
                {
                    removed.Add(other);
                }
            }

            if (removed.Count == 0)
            {
                return Dnr(NvmeStatusCodes.ReservationConflict);
            }

            Unregister(removed, notices);
        }

        _generation++;
        return SavedLocked();
    }

    private void Unregister(List<Guid> hosts, List<ReservationNotice> notices)
    {
        foreach (var other in hosts)
        {
            _registrants.Remove(other);
            notices.Add(new ReservationNotice(other, ReservationNotificationLog.TypeRegistrationPreempted));
        }
    }

    /// <summary>A registrant left: its reservation goes with it, unless every registrant holds and some remain.</summary>
    private void LeaveLocked(Guid host, List<ReservationNotice> notices)
    {
        if (_type == ReservationType.None)
        {
            return;
        }

        if (ReservationTypes.AllRegistrantsHold(_type))
        {
            if (_registrants.Count == 0)
            {
                _type = ReservationType.None;
                _holder = Guid.Empty;
            }
        }
        else if (_holder == host)
        {
            ReleaseLocked(host, notices);
        }
    }

    /// <summary>§8.19.8: releasing a Registrants Only or All Registrants reservation tells the other registrants.</summary>
    private void ReleaseLocked(Guid host, List<ReservationNotice> notices)
    {
        if (ReservationTypes.RegistrantsHaveAccess(_type))
        {
            foreach (var other in _registrants.Keys)
            {
                if (other != host)
                {
                    notices.Add(new ReservationNotice(other, ReservationNotificationLog.TypeReservationReleased));
                }
            }
        }

        _type = ReservationType.None;
        _holder = Guid.Empty;
    }

    private NvmeStatus ChangePtplLocked(ReservationCommand command)
    {
        if (command.ChangePtpl == ReservationCommand.PtplSet)
        {
            _ptpl = true;
        }
        else if (command.ChangePtpl == ReservationCommand.PtplClear)
        {
            _ptpl = false;
        }

        return SavedLocked();
    }

    /// <summary>Marks the state changed: <see cref="Change"/> saves (and with a shared store, broadcasts) it.</summary>
    private NvmeStatus SavedLocked()
    {
        _dirty = true;
        return NvmeStatus.Success;
    }

    private ReservationSnapshot CaptureLocked() => new(_generation, _type, _holder, _ptpl, [.. _registrants]);

    private void RestoreLocked(ReservationSnapshot snapshot)
    {
        _generation = snapshot.Generation;
        _type = snapshot.Type;
        _holder = snapshot.Holder;
        _ptpl = snapshot.PersistThroughPowerLoss;
        _registrants.Clear();
        foreach (var (host, key) in snapshot.Registrants)
        {
            _registrants[host] = key;
        }
    }

    private static NvmeStatus Dnr(ushort code) => new((ushort)(code | NvmeStatus.DnrBit));

    /// <summary>What the per-I/O check reads: the reservation, its registrants, the version it came from (shared store)
    /// and the hosts the latest Preempt and Abort removed (their refused in-flight commands complete as aborted).</summary>
    private sealed record AccessView(ReservationType Type, Guid Holder, HashSet<Guid> Registrants, ulong Version, HashSet<Guid> Aborted)
    {
        public static AccessView Open { get; } = new(ReservationType.None, Guid.Empty, [], 0, []);
    }
}
