using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using NvmeMptls.Target.Subsystems;

namespace NvmeMptls.Target.Namespaces;

/// <summary>
/// Keeps an RBD namespace's persistent reservations in a RADOS object beside the image (<see cref="ObjectPrefix"/> +
/// the image's id as `rbd info` shows it, in the image's pool and namespace; <c>rados -p POOL get
/// nvmemptls.reservations.ID -</c> shows it), shared by every gateway serving the image. The id, not the name: a renamed
/// image keeps its state, a new image under an old name starts without one (the old object stays until removed):
/// <list type="bullet">
/// <item>A change is one RADOS write op: <c>cmpxattr(nvmemptls.version == expected)</c>, <c>write_full</c>,
/// <c>setxattr(version + 1)</c>. The OSD applies all or nothing, so two gateways changing the state at once cannot
/// both win: the loser gets -ECANCELED and runs its command again on the newer state.</item>
/// <item>Every gateway watches the object (<c>rados_watch2</c>). The changing gateway notifies (<c>rados_notify2</c>)
/// with the new state, its notices and the hosts to abort, and waits for every watcher's ack; a watcher acks when it
/// enforces the change (its in-flight commands of preempted hosts drained). So conflicts hold on every gateway when
/// the command that made them completes.</item>
/// <item>A timer checks the watch every second (<c>rados_watch_check</c>), re-watches after an error and re-reads the
/// version xattr; the namespace's state counts as current only until <see cref="FreshnessBound"/> after the last good
/// check, after which its I/O gets Namespace Not Ready until the store is reachable again.</item>
/// </list>
/// State saved by older versions in the image metadata key <see cref="MetadataKey"/> is read while the object holds none.
/// </summary>
public sealed partial class RbdReservationStore : ISharedReservationStore
{
    public const string MetadataKey = "nvmemptls.reservations";
    public const string ObjectPrefix = "nvmemptls.reservations.";
    public const string VersionXattr = "nvmemptls.version";

    /// <summary>How long the state counts as current after the last successful check of the watch and the version.</summary>
    public static readonly TimeSpan FreshnessBound = TimeSpan.FromSeconds(10);

    private static readonly TimeSpan CheckInterval = TimeSpan.FromSeconds(1);
    private const ulong NotifyTimeoutMs = 5_000; // as librbd's header notifies; a crashed gateway's watch holds a notify this long until the OSD drops it

    private readonly RbdBlockDevice _device;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly object _nativeLock = new();
    private readonly Lock _ackLock = new();
    private IReservationChangeListener? _listener;
    private GCHandle _self;
    private ITimer? _timer;
    private ulong _cookie;
    private ulong _instanceId;
    private ulong _knownVersion;
    private int _watchBroken;
    private bool _closed;

    public RbdReservationStore(RbdBlockDevice device, ILogger? logger = null, TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(device);
        _device = device;
        _logger = logger ?? NullLogger.Instance;
        _time = timeProvider ?? TimeProvider.System;
        ObjectName = ObjectPrefix + ImageId(device);
        device.Closing += Stop;
    }

    /// <summary>The RADOS object holding the state, in the image's pool (and RADOS namespace).</summary>
    public string ObjectName { get; }

    public ReservationSnapshot Load() => LoadVersioned().Snapshot;

    /// <summary>An unconditional save (IReservationStore): a compare-and-set on whatever version is stored now.</summary>
    public void Save(ReservationSnapshot snapshot)
    {
        while (!TryWrite(snapshot, LoadVersioned().Version))
        {
        }
    }

    public ReservationChange LoadVersioned()
    {
        var text = ReadObject();
        ReservationChange change;
        if (string.IsNullOrEmpty(text))
        {
            // Nothing saved in the object yet: an older version's state in the image metadata, or none.
            // The version is the xattr's: an object re-created after it was removed continues from the version known.
            var legacy = GetMetadata();
            change = (legacy is null ? ReservationChange.Initial
                : ReservationChange.Initial with { Snapshot = Parse(legacy, $"{_device.Description} metadata {MetadataKey}") })
                with { Version = text is null ? 0 : ReadStoredVersion() };
        }
        else
        {
            change = ReservationChange.Parse(text, $"rados object {ObjectName} of {_device.Description}");
        }

        NoteVersion(change.Version);
        return change;
    }

    public unsafe bool TryWrite(ReservationSnapshot snapshot, ulong expectedVersion)
    {
        var next = expectedVersion + 1;
        var content = Encoding.UTF8.GetBytes(new ReservationChange(next, snapshot, [], []).Format());
        var expected = Encoding.ASCII.GetBytes(expectedVersion.ToString(CultureInfo.InvariantCulture));
        var version = Encoding.ASCII.GetBytes(next.ToString(CultureInfo.InvariantCulture));
        for (var attempt = 0; attempt < 2; attempt++)
        {
            int rc;
            var op = RadosWatchNative.rados_create_write_op();
            try
            {
                fixed (byte* e = expected, c = content, v = version)
                {
                    RadosWatchNative.rados_write_op_cmpxattr(op, VersionXattr, RadosWatchNative.CmpXattrEqual, e, (nuint)expected.Length);
                    RadosWatchNative.rados_write_op_write_full(op, c, (nuint)content.Length);
                    RadosWatchNative.rados_write_op_setxattr(op, VersionXattr, v, (nuint)version.Length);
                    rc = RadosWatchNative.rados_write_op_operate(op, _device.IoContext, ObjectName, 0, 0);
                }
            }
            finally
            {
                RadosWatchNative.rados_release_write_op(op);
            }

            switch (rc)
            {
                case 0:
                    NoteVersion(next);
                    return true;
                case -RadosWatchNative.ECANCELED:
                    ReservationLog.VersionConflict(_logger, _device.Description, expectedVersion);
                    return false;
                case -RadosWatchNative.ENOENT when attempt == 0:
                    EnsureObject(expectedVersion); // removed behind our back: re-created at the version this gateway holds
                    continue;
                default:
                    throw new IOException($"writing rados object {ObjectName} of {_device.Description} failed: {RbdNative.ErrnoName(-rc)}");
            }
        }

        return false;
    }

    public unsafe void Broadcast(ReservationChange change)
    {
        ArgumentNullException.ThrowIfNull(change);
        var payload = Encoding.UTF8.GetBytes(change.Format());
        var started = _time.GetTimestamp();
        int rc;
        nint reply;
        fixed (byte* p = payload)
        {
            // A Preempt and Abort waits for the other gateways to drain the aborted hosts' commands before they ack.
            var timeoutMs = change.Aborted.Count > 0 ? NotifyTimeoutMs + (ulong)NamespaceReservations.AbortDrainTimeout.TotalMilliseconds : NotifyTimeoutMs;
            rc = RadosWatchNative.rados_notify2(_device.IoContext, ObjectName, p, payload.Length, timeoutMs, out reply, out _);
        }

        if (reply != 0)
        {
            RadosWatchNative.rados_buffer_free(reply);
        }

        var ms = (long)_time.GetElapsedTime(started).TotalMilliseconds;
        if (rc < 0)
        {
            // A gateway that did not ack re-validates the version within FreshnessBound (or stops serving I/O).
            ReservationLog.NotifyFailed(_logger, _device.Description, change.Version, RbdNative.ErrnoName(-rc), ms);
        }
        else
        {
            ReservationLog.ChangeBroadcast(_logger, _device.Description, change.Version, ms);
        }
    }

    public void Start(IReservationChangeListener listener)
    {
        ArgumentNullException.ThrowIfNull(listener);
        lock (_nativeLock)
        {
            if (_listener is not null)
            {
                throw new InvalidOperationException($"{ObjectName}: already started");
            }

            _listener = listener;
            _instanceId = RadosWatchNative.rados_get_instance_id(_device.Cluster);
            _self = GCHandle.Alloc(this);
            EnsureObject(Volatile.Read(ref _knownVersion));
            if (TryWatchLocked())
            {
                listener.OnFreshUntil(Environment.TickCount64 + (long)FreshnessBound.TotalMilliseconds);
            }

            _timer = _time.CreateTimer(static s => ((RbdReservationStore)s!).Check(), this, CheckInterval, CheckInterval);
        }
    }

    /// <summary>Parses the metadata value (the file's text form, '\n'-separated); <paramref name="source"/> names it in errors.</summary>
    internal static ReservationSnapshot Parse(string value, string source) =>
        FileReservationStore.Parse(value.Split('\n', StringSplitOptions.RemoveEmptyEntries), source);

    /// <summary>The value as librbd returns it: UTF-8, NUL-terminated, <paramref name="length"/> counting the terminator.</summary>
    internal static string Decode(byte[] buffer, int length)
    {
        var end = Array.IndexOf(buffer, (byte)0);
        return Encoding.UTF8.GetString(buffer, 0, end >= 0 ? end : Math.Min(buffer.Length, length));
    }

    /// <summary>The image's id: the state belongs to this image, not to whichever image has its name later.</summary>
    private static unsafe string ImageId(RbdBlockDevice device)
    {
        var buffer = new byte[128];
        int rc;
        fixed (byte* p = buffer)
        {
            rc = RadosWatchNative.rbd_get_id(device.Image, p, (nuint)buffer.Length);
        }

        if (rc < 0)
        {
            throw new IOException($"rbd_get_id on {device.Description} failed: {RbdNative.ErrnoName(-rc)}");
        }

        return Decode(buffer, buffer.Length);
    }

    /// <summary>Lock-free (called on librados threads too): the highest version this gateway has seen.</summary>
    private void NoteVersion(ulong version)
    {
        var known = Volatile.Read(ref _knownVersion);
        while (known < version)
        {
            var seen = Interlocked.CompareExchange(ref _knownVersion, version, known);
            if (seen == known)
            {
                return;
            }

            known = seen;
        }
    }

    /// <summary>Creates the object (empty, at <paramref name="version"/>) unless it exists: the watch needs it.</summary>
    private unsafe void EnsureObject(ulong version)
    {
        var zero = Encoding.ASCII.GetBytes(version.ToString(CultureInfo.InvariantCulture));
        var op = RadosWatchNative.rados_create_write_op();
        int rc;
        try
        {
            RadosWatchNative.rados_write_op_create(op, RadosWatchNative.CreateExclusive, null);
            fixed (byte* z = zero)
            {
                RadosWatchNative.rados_write_op_setxattr(op, VersionXattr, z, (nuint)zero.Length);
                rc = RadosWatchNative.rados_write_op_operate(op, _device.IoContext, ObjectName, 0, 0);
            }
        }
        finally
        {
            RadosWatchNative.rados_release_write_op(op);
        }

        if (rc < 0 && rc != -RadosWatchNative.EEXIST)
        {
            throw new IOException($"creating rados object {ObjectName} of {_device.Description} failed: {RbdNative.ErrnoName(-rc)}");
        }
    }

    private unsafe string? ReadObject()
    {
        for (var size = 64 * 1024; size <= FileReservationStore.MaxBytes * 2; size *= 4)
        {
            var buffer = new byte[size];
            int rc;
            fixed (byte* p = buffer)
            {
                rc = RadosWatchNative.rados_read(_device.IoContext, ObjectName, p, (nuint)size, 0);
            }

            if (rc == -RadosWatchNative.ENOENT)
            {
                return null;
            }

            if (rc < 0)
            {
                throw new IOException($"reading rados object {ObjectName} of {_device.Description} failed: {RbdNative.ErrnoName(-rc)}");
            }

            if (rc < size)
            {
                return Encoding.UTF8.GetString(buffer, 0, rc);
            }
        }

        throw new InvalidDataException($"rados object {ObjectName} of {_device.Description}: not a reservation state (larger than {FileReservationStore.MaxBytes * 2} bytes)");
    }

    private unsafe ulong ReadStoredVersion()
    {
        var buffer = new byte[32];
        int rc;
        fixed (byte* p = buffer)
        {
            rc = RadosWatchNative.rados_getxattr(_device.IoContext, ObjectName, VersionXattr, p, (nuint)buffer.Length);
        }

        if (rc < 0)
        {
            throw new IOException($"reading {VersionXattr} of rados object {ObjectName} failed: {RbdNative.ErrnoName(-rc)}");
        }

        return ulong.TryParse(Encoding.ASCII.GetString(buffer, 0, rc), NumberStyles.None, CultureInfo.InvariantCulture, out var v)
            ? v : throw new InvalidDataException($"rados object {ObjectName}: {VersionXattr} is not a number");
    }

    private unsafe string? GetMetadata()
    {
        nuint length = 4096;
        while (true)
        {
            var buffer = new byte[(int)length];
            int rc;
            fixed (byte* p = buffer)
            {
                rc = RbdNative.rbd_metadata_get(_device.Image, MetadataKey, p, ref length);
            }

            if (rc == -2)
            {
                return null; // ENOENT: nothing saved yet
            }

            if (rc == -34 && length > (nuint)buffer.Length && length <= 1 << 20)
            {
                continue; // ERANGE: librbd said how much it needs
            }

            if (rc < 0)
            {
                throw new IOException($"rbd_metadata_get {MetadataKey} on {_device.Description} failed: {RbdNative.ErrnoName(-rc)}");
            }

            return Decode(buffer, (int)length);
        }
    }
}
