using NvmeMptls.Target.Namespaces;
using NvmeMptls.Transport.Nvme;

namespace NvmeMptls.Target.Subsystems;

/// <summary>
/// Saving changes, the state shared by a gateway group, and the access check with its in-flight gate.
/// <para>
/// A change runs the command on the in-memory state and saves it. With a shared store that is a compare-and-set on
/// the version this gateway last saw: when another gateway changed the state first, the newer state is loaded and
/// the command runs again on it. A saved change is published here (new I/O checks it at once), broadcast (every
/// gateway publishes it, raises its notices for its own controllers, aborts what Preempt and Abort aborts, then
/// acknowledges) and only then does the command complete. Another gateway's change arrives on a librados thread:
/// the access view is swapped lock-free there, everything else runs on the thread pool before the acknowledgement.
/// </para>
/// <para>
/// Device I/O passes a gate (<see cref="EnterIo"/>/<see cref="ExitIo"/>): two counters, one per epoch. A Preempt
/// and Abort publishes the new view, flips the epoch and waits until the old epoch's commands left the device, so
/// none of a preempted host's commands still runs when the acquire completes; one that entered after sees the new
/// view and completes with Command Aborted due to Preempt and Abort (or Reservation Conflict).
/// </para>
/// </summary>
public sealed partial class NamespaceReservations : IReservationChangeListener
{
    /// <summary>How often a change is retried on a newer state before the command fails (without DNR: the host retries).</summary>
    private const int MaxAttempts = 8;

    /// <summary>How long a Preempt and Abort waits for the preempted hosts' commands to leave the device.</summary>
    internal static readonly TimeSpan AbortDrainTimeout = TimeSpan.FromSeconds(30);

    private readonly ISharedReservationStore? _shared;
    private readonly object _gateLock = new();
    private ulong _version;
    private long _freshUntil = long.MaxValue;
    private ReservationChange? _pending;
    private int _gateEpoch;
    private long _gateEven;
    private long _gateOdd;

    /// <summary>Set by the subsystem: delivers notices of another gateway's change to this gateway's controllers.</summary>
    internal Action<IReadOnlyList<ReservationNotice>>? NoticesRaised { get; set; }

    /// <summary>The version of the shared state this gateway enforces (0 without a shared store).</summary>
    public ulong Version => Volatile.Read(ref _view).Version;

    /// <summary>True while the shared state could have changed unseen (the watch broke and was not re-validated in time).</summary>
    public bool Stale => Environment.TickCount64 > Volatile.Read(ref _freshUntil);

    /// <summary>
    /// The per-I/O check (NVMe Base 2.0 §8.19.1, Figure 421): Reservation Conflict when the host has no access, Namespace
    /// Not Ready (no DNR: the host retries) while a shared state may be stale. Lock-free, allocation-free.
    /// </summary>
    public NvmeStatus CheckAccess(Guid hostId, bool write)
    {
        if (Environment.TickCount64 > Volatile.Read(ref _freshUntil))
        {
            return new NvmeStatus(NvmeStatusCodes.NamespaceNotReady);
        }

        return Conflicts(hostId, write) ? Dnr(NvmeStatusCodes.ReservationConflict) : NvmeStatus.Success;
    }

    /// <summary>
    /// Enters the device gate for one command just before it starts on the device: checked again against the
    /// current view (a reservation may have changed while its data arrived). On success <paramref name="slot"/> must
    /// be given to <see cref="ExitIo"/> when the device finished; otherwise it is -1 and the status says why.
    /// </summary>
    public NvmeStatus EnterIo(Guid hostId, bool write, out int slot)
    {
        while (true)
        {
            var epoch = Volatile.Read(ref _gateEpoch);
            Interlocked.Increment(ref Counter(epoch));
            if (Volatile.Read(ref _gateEpoch) == epoch)
            {
                slot = epoch & 1;
                break;
            }

            Interlocked.Decrement(ref Counter(epoch)); // a drain flipped the epoch meanwhile: enter the new one
        }

        var view = Volatile.Read(ref _view);
        if (!Conflicts(hostId, write))
        {
            return NvmeStatus.Success;
        }

        Interlocked.Decrement(ref Counter(slot));
        slot = -1;
        return Dnr(view.Aborted.Contains(hostId) ? NvmeStatusCodes.CommandAbortedPreemptAndAbort : NvmeStatusCodes.ReservationConflict);
    }

    /// <summary>The command that entered with <paramref name="slot"/> left the device.</summary>
    public void ExitIo(int slot) => Interlocked.Decrement(ref Counter(slot));

    /// <summary>Commands in the device gate now (both epochs).</summary>
    internal long InGate => Volatile.Read(ref _gateEven) + Volatile.Read(ref _gateOdd);

    private ref long Counter(int epoch) => ref (epoch & 1) == 0 ? ref _gateEven : ref _gateOdd;

    /// <summary>
    /// After a new view is published: waits until every command that entered the gate before it left the device.
    /// False when <paramref name="timeout"/> passed first.
    /// </summary>
    private bool DrainGate(TimeSpan timeout)
    {
        // Commands this thread's receive burst started may be in the gate with their io_uring entries held back for the
        // burst's end, which cannot come while this waits: they go to the kernel now.
        SubmissionBatch.Current?.Flush();
        lock (_gateLock)
        {
            var old = Interlocked.Increment(ref _gateEpoch) - 1;
            var deadline = Environment.TickCount64 + (long)timeout.TotalMilliseconds;
            var spin = new SpinWait();
            while (Volatile.Read(ref Counter(old)) > 0)
            {
                if (Environment.TickCount64 > deadline)
                {
                    return false;
                }

                spin.SpinOnce(sleep1Threshold: 10);
            }

            return true;
        }
    }

    /// <summary>Runs a command's <paramref name="operation"/> under the lock and saves what it changed.</summary>
    private NvmeStatus Change(List<ReservationNotice> notices, Func<NvmeStatus> operation)
    {
        lock (_lock)
        {
            for (var attempt = 1; ; attempt++)
            {
                ApplyPendingLocked();
                var before = CaptureLocked();
                _dirty = false;
                _abortHosts = null;
                notices.Clear();
                var status = operation();
                if (!_dirty)
                {
                    return status;
                }

                var after = CaptureLocked();
                var aborted = _abortHosts is { Count: > 0 } a ? a.ToArray() : [];
                if (_shared is null)
                {
                    if (!TrySaveLocked(after))
                    {
                        RestoreLocked(before);
                        notices.Clear();
                        return new NvmeStatus(NvmeStatusCodes.InternalError);
                    }

                    Publish(aborted);
                    DrainIfAborting(aborted);
                    return status;
                }

                bool written;
                try
                {
                    written = _shared.TryWrite(after, _version);
                }
                catch (IOException)
                {
                    written = false;
                    attempt = MaxAttempts;
                }

                if (written)
                {
                    _version++;
                    Publish(aborted);
                    DrainIfAborting(aborted);
                    _shared.Broadcast(new ReservationChange(_version, after, [.. notices], aborted));
                    return status;
                }

                RestoreLocked(before);
                notices.Clear();
                if (attempt >= MaxAttempts)
                {
                    return new NvmeStatus(NvmeStatusCodes.InternalError);
                }

                // Another gateway changed the state first: run the command again on the newer state.
                try
                {
                    var current = _shared.LoadVersioned();
                    RestoreLocked(current.Snapshot);
                    _version = current.Version;
                    Publish([]);
                }
                catch (Exception ex) when (ex is IOException or InvalidDataException)
                {
                    return new NvmeStatus(NvmeStatusCodes.InternalError);
                }
            }
        }
    }

    private bool TrySaveLocked(ReservationSnapshot snapshot)
    {
        try
        {
            _store?.Save(snapshot);
            return true;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    private void DrainIfAborting(Guid[] aborted)
    {
        if (aborted.Length > 0)
        {
            DrainGate(AbortDrainTimeout);
        }
    }

    /// <summary>Publishes the access view of the state under the lock, unless a newer remote version is already published.</summary>
    private void Publish(IReadOnlyCollection<Guid> aborted) =>
        PublishIfNotOlder(new AccessView(_type, _holder, [.. _registrants.Keys], _version, [.. aborted]));

    /// <summary>Versions only move forward: a view never replaces one of a newer shared version.</summary>
    private void PublishIfNotOlder(AccessView view)
    {
        var current = Volatile.Read(ref _view);
        while (current.Version <= view.Version)
        {
            var seen = Interlocked.CompareExchange(ref _view, view, current);
            if (ReferenceEquals(seen, current))
            {
                return;
            }

            current = seen;
        }
    }

    /// <summary>Takes another gateway's change into the locked state when it is newer than what this one holds.</summary>
    private void ApplyPendingLocked()
    {
        if (Interlocked.Exchange(ref _pending, null) is { } change && change.Version > _version)
        {
            RestoreLocked(change.Snapshot);
            _version = change.Version;
        }
    }

    void IReservationChangeListener.OnRemoteChange(ReservationChange change, Action applied)
    {
        // Lock-free: swap in the newer view (I/O enforces it from now on) and keep the change for the locked state.
        PublishIfNotOlder(new AccessView(change.Snapshot.Type, change.Snapshot.Holder, [.. change.Snapshot.Registrants.Select(r => r.Key)], change.Version, [.. change.Aborted]));

        var pending = Volatile.Read(ref _pending);
        while (pending is null || pending.Version < change.Version)
        {
            var seen = Interlocked.CompareExchange(ref _pending, change, pending);
            if (ReferenceEquals(seen, pending))
            {
                break;
            }

            pending = seen;
        }

        ThreadPool.QueueUserWorkItem(static s =>
        {
            var (self, change, applied) = s;
            try
            {
                if (change.Notices.Count > 0)
                {
                    self.NoticesRaised?.Invoke(change.Notices);
                }

                if (change.Aborted.Count > 0)
                {
                    self.DrainGate(AbortDrainTimeout);
                }
            }
            finally
            {
                applied();
            }
        }, (this, change, applied), preferLocal: false);
    }

    void IReservationChangeListener.OnFreshUntil(long tickCount64) => Volatile.Write(ref _freshUntil, tickCount64);
}
