using System.Runtime.InteropServices;

namespace NvmeMptls.Target.Gateway;

/// <summary>
/// The librados calls a gateway lease needs (Ceph 16, &lt;rados/librados.h&gt;): cls_lock's exclusive lock with a
/// duration (an OSD forgets an expired locker), its renewal, listing and breaking, the object's extended attributes
/// that name the last owner, and the monitor command that blocklists a client. The connection calls themselves
/// (rados_create, rados_connect, …) are <see cref="Namespaces.RbdNative"/>'s.
/// </summary>
internal static unsafe partial class RadosLockNative
{
    private const string Rados = "librados.so.2";

    /// <summary>LIBRADOS_LOCK_FLAG_MAY_RENEW: a lock already held by this (client, cookie) is extended.</summary>
    public const byte LockFlagMayRenew = 1 << 0;

    /// <summary>LIBRADOS_LOCK_FLAG_MUST_RENEW: extend only; -ENOENT when this (client, cookie) no longer holds it.</summary>
    public const byte LockFlagMustRenew = 1 << 1;

    public const int EBUSY = 16;
    public const int EEXIST = 17;
    public const int ENODATA = 61;
    public const int ERANGE = 34;

    /// <summary>struct timeval on 64-bit Linux: tv_sec and tv_usec are both long.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct TimeVal
    {
        public long Seconds;
        public long Microseconds;

        public static TimeVal From(TimeSpan span) => new()
        {
            Seconds = (long)span.TotalSeconds,
            Microseconds = (long)(span.Ticks % TimeSpan.TicksPerSecond / TimeSpan.TicksPerMicrosecond),
        };
    }

    [LibraryImport(Rados, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int rados_lock_exclusive(nint ioctx, string oid, string name, string cookie, string description, TimeVal* duration, byte flags);

    [LibraryImport(Rados, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int rados_unlock(nint ioctx, string oid, string name, string cookie);

    /// <summary>The lockers' clients, cookies and addresses, each buffer '\0'-separated; -ERANGE with the sizes needed when a buffer is short.</summary>
    [LibraryImport(Rados, StringMarshalling = StringMarshalling.Utf8)]
    public static partial nint rados_list_lockers(nint ioctx, string oid, string name, out int exclusive, byte* tag, ref nuint tagLength,
        byte* clients, ref nuint clientsLength, byte* cookies, ref nuint cookiesLength, byte* addresses, ref nuint addressesLength);

    [LibraryImport(Rados, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int rados_break_lock(nint ioctx, string oid, string name, string client, string cookie);

    [LibraryImport(Rados, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int rados_setxattr(nint ioctx, string oid, string name, byte* value, nuint length);

    /// <summary>The attribute's length, or a negative errno (-ENODATA when unset, -ENOENT when the object does not exist).</summary>
    [LibraryImport(Rados, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int rados_getxattr(nint ioctx, string oid, string name, byte* buffer, nuint length);

    /// <summary>Runs one monitor command (a JSON string); output buffers are freed with rados_buffer_free.</summary>
    [LibraryImport(Rados)]
    public static partial int rados_mon_command(nint cluster, nint* commands, nuint commandCount, byte* input, nuint inputLength,
        out nint output, out nuint outputLength, out nint status, out nuint statusLength);

    /// <summary>Waits until this client has the newest OSD map (after a blocklist, so the OSDs it talks to enforce it).</summary>
    [LibraryImport(Rados)]
    public static partial int rados_wait_for_latest_osdmap(nint cluster);
}
