using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;
using Microsoft.Extensions.Logging;
using NvmeMptls.Target.Subsystems;

namespace NvmeMptls.Target.Namespaces;

/// <summary>
/// The watch on the state object: notifies from other gateways (on a librados thread: parsed, handed to the
/// namespace without blocking, acked when the namespace enforces the change), watch errors (re-watched by the
/// timer), the periodic check that keeps the namespace's copy counted as current, and the stop before the image
/// closes.
/// </summary>
public sealed partial class RbdReservationStore
{
    private unsafe bool TryWatchLocked()
    {
        var rc = RadosWatchNative.rados_watch2(_device.IoContext, ObjectName, out var cookie, &OnNotify, &OnWatchError, GCHandle.ToIntPtr(_self));
        if (rc < 0)
        {
            ReservationLog.WatchFailed(_logger, _device.Description, ObjectName, RbdNative.ErrnoName(-rc));
            _cookie = 0;
            return false;
        }

        _cookie = cookie;
        Volatile.Write(ref _watchBroken, 0);
        return true;
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static void OnNotify(nint arg, ulong notifyId, ulong cookie, ulong notifierId, nint data, nuint length)
    {
        try
        {
            if (GCHandle.FromIntPtr(arg).Target is RbdReservationStore store)
            {
                unsafe
                {
                    store.Notified(notifyId, cookie, notifierId, new ReadOnlySpan<byte>((void*)data, (int)length));
                }
            }
        }
#pragma warning disable CA1031 // an exception must not unwind into librados
        catch (Exception)
#pragma warning restore CA1031
        {
        }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static void OnWatchError(nint arg, ulong cookie, int error)
    {
        try
        {
            if (GCHandle.FromIntPtr(arg).Target is RbdReservationStore store)
            {
                Volatile.Write(ref store._watchBroken, 1);
                ReservationLog.WatchError(store._logger, store._device.Description, RbdNative.ErrnoName(-error));
            }
        }
#pragma warning disable CA1031 // an exception must not unwind into librados
        catch (Exception)
#pragma warning restore CA1031
        {
        }
    }

    private void Notified(ulong notifyId, ulong cookie, ulong notifierId, ReadOnlySpan<byte> payload)
    {
        if (notifierId == _instanceId || _listener is not { } listener)
        {
            Ack(notifyId, cookie); // this gateway's own change: already enforced here
            return;
        }

        ReservationChange change;
        try
        {
            change = ReservationChange.Parse(Encoding.UTF8.GetString(payload), $"notify on {ObjectName}");
        }
        catch (InvalidDataException ex)
        {
            ReservationLog.BadNotify(_logger, _device.Description, ex.Message);
            Volatile.Write(ref _watchBroken, 1); // the timer re-reads the state
            Ack(notifyId, cookie);
            return;
        }

        NoteVersion(change.Version);
        ReservationLog.RemoteChange(_logger, _device.Description, change.Version, change.Notices.Count, change.Aborted.Count);
        listener.OnRemoteChange(change, () => Ack(notifyId, cookie));
    }

    private unsafe void Ack(ulong notifyId, ulong cookie)
    {
        // Only against the stop (rados_notify_ack queues the ack and does not wait), never against a running check.
        lock (_ackLock)
        {
            if (!_closed)
            {
                _ = RadosWatchNative.rados_notify_ack(_device.IoContext, ObjectName, notifyId, cookie, null, 0);
            }
        }
    }

    /// <summary>Every second: the watch is alive (or re-made) and the stored version is the one enforced here.</summary>
    private void Check()
    {
        if (!Monitor.TryEnter(_nativeLock))
        {
            return; // a check (or the stop) is still running
        }

        try
        {
            if (_closed || _listener is not { } listener)
            {
                return;
            }

            if (_cookie == 0 || Volatile.Read(ref _watchBroken) != 0 || RadosWatchNative.rados_watch_check(_device.IoContext, _cookie) < 0)
            {
                if (_cookie != 0)
                {
                    _ = RadosWatchNative.rados_unwatch2(_device.IoContext, _cookie);
                    _cookie = 0;
                }

                if (!TryWatchLocked())
                {
                    // The object may have been removed: re-create it at the version enforced here, then watch again.
                    EnsureObject(Volatile.Read(ref _knownVersion));
                    if (!TryWatchLocked())
                    {
                        return;
                    }
                }

                ReservationLog.Rewatched(_logger, _device.Description, ObjectName);
            }

            // Changes notified while the watch was down are found by the version; they carry no notices.
            if (ReadStoredVersion() != Volatile.Read(ref _knownVersion))
            {
                var current = LoadVersioned();
                ReservationLog.Resynchronized(_logger, _device.Description, current.Version);
                listener.OnRemoteChange(current, static () => { });
            }

            listener.OnFreshUntil(Environment.TickCount64 + (long)FreshnessBound.TotalMilliseconds);
        }
        catch (Exception ex) when (ex is IOException or InvalidDataException)
        {
            ReservationLog.CheckFailed(_logger, _device.Description, ex.Message);
        }
        finally
        {
            Monitor.Exit(_nativeLock);
        }
    }

    /// <summary>Before the image's handles close: no more checks, acks or callbacks.</summary>
    private void Stop()
    {
        _timer?.Dispose();
        lock (_nativeLock)
        {
            lock (_ackLock)
            {
                _closed = true;
            }

            if (_cookie != 0)
            {
                _ = RadosWatchNative.rados_unwatch2(_device.IoContext, _cookie);
                _cookie = 0;
            }
        }

        if (_self.IsAllocated)
        {
            _ = RadosWatchNative.rados_watch_flush(_device.Cluster);
            _self.Free();
        }
    }
}

/// <summary>Log events of the shared reservation state (3450–3499).</summary>
internal static partial class ReservationLog
{
    [LoggerMessage(EventId = 3450, Level = LogLevel.Debug, Message = "Reservations of {Device}: version {Version} changed on another gateway first; running the command again on the newer state")]
    public static partial void VersionConflict(ILogger logger, string device, ulong version);

    [LoggerMessage(EventId = 3451, Level = LogLevel.Debug, Message = "Reservations of {Device}: version {Version} enforced by every gateway after {Milliseconds} ms")]
    public static partial void ChangeBroadcast(ILogger logger, string device, ulong version, long milliseconds);

    [LoggerMessage(EventId = 3452, Level = LogLevel.Warning, Message = "Reservations of {Device}: notifying version {Version} failed ({Error}) after {Milliseconds} ms; gateways that did not ack re-read the state within the freshness bound")]
    public static partial void NotifyFailed(ILogger logger, string device, ulong version, string error, long milliseconds);

    [LoggerMessage(EventId = 3453, Level = LogLevel.Warning, Message = "Reservations of {Device}: watching {Object} failed ({Error}); retried every second, I/O waits for it after the freshness bound")]
    public static partial void WatchFailed(ILogger logger, string device, string @object, string error);

    [LoggerMessage(EventId = 3454, Level = LogLevel.Warning, Message = "Reservations of {Device}: the watch broke ({Error}); re-watching and re-reading the state")]
    public static partial void WatchError(ILogger logger, string device, string error);

    [LoggerMessage(EventId = 3455, Level = LogLevel.Information, Message = "Reservations of {Device}: watching {Object} again")]
    public static partial void Rewatched(ILogger logger, string device, string @object);

    [LoggerMessage(EventId = 3456, Level = LogLevel.Information, Message = "Reservations of {Device}: version {Version} read from the store (a change was missed while the watch was down)")]
    public static partial void Resynchronized(ILogger logger, string device, ulong version);

    [LoggerMessage(EventId = 3457, Level = LogLevel.Warning, Message = "Reservations of {Device}: checking the shared state failed: {Error}")]
    public static partial void CheckFailed(ILogger logger, string device, string error);

    [LoggerMessage(EventId = 3458, Level = LogLevel.Warning, Message = "Reservations of {Device}: ignored a malformed notify: {Error}")]
    public static partial void BadNotify(ILogger logger, string device, string error);

    [LoggerMessage(EventId = 3459, Level = LogLevel.Debug, Message = "Reservations of {Device}: version {Version} from another gateway ({Notices} notices, {Aborted} hosts aborted)")]
    public static partial void RemoteChange(ILogger logger, string device, ulong version, int notices, int aborted);
}
