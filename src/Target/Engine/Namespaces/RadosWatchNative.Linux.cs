using System.Runtime.InteropServices;

namespace NvmeMptls.Target.Namespaces;

/// <summary>
/// The librados C API calls a reservation state object beside an RBD image needs (Debian 12: librados2, Ceph 16):
/// a compare-and-set write (write op with cmpxattr, exclusive create, write_full, setxattr), plain reads, and
/// watch/notify so every gateway learns a change at once. Calls return 0 (or a length) or a negative errno, as
/// &lt;rados/librados.h&gt; declares them.
/// </summary>
internal static unsafe partial class RadosWatchNative
{
    private const string Rados = "librados.so.2";

    // errno values librados returns negated.
    public const int ENOENT = 2;
    public const int EEXIST = 17;
    public const int ERANGE = 34;
    public const int ECANCELED = 125;

    /// <summary>LIBRADOS_CREATE_EXCLUSIVE: fail with -EEXIST when the object exists.</summary>
    public const int CreateExclusive = 1;

    /// <summary>LIBRADOS_CMPXATTR_OP_EQ: the op fails with -ECANCELED unless the xattr equals the value.</summary>
    public const byte CmpXattrEqual = 1;

    [LibraryImport(Rados)]
    public static partial ulong rados_get_instance_id(nint cluster);

    [LibraryImport(Rados)]
    public static partial nint rados_create_write_op();

    [LibraryImport(Rados)]
    public static partial void rados_release_write_op(nint op);

    [LibraryImport(Rados, StringMarshalling = StringMarshalling.Utf8)]
    public static partial void rados_write_op_create(nint op, int exclusive, string? category);

    [LibraryImport(Rados, StringMarshalling = StringMarshalling.Utf8)]
    public static partial void rados_write_op_cmpxattr(nint op, string name, byte comparison, byte* value, nuint length);

    [LibraryImport(Rados, StringMarshalling = StringMarshalling.Utf8)]
    public static partial void rados_write_op_setxattr(nint op, string name, byte* value, nuint length);

    [LibraryImport(Rados)]
    public static partial void rados_write_op_write_full(nint op, byte* buffer, nuint length);

    [LibraryImport(Rados, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int rados_write_op_operate(nint op, nint ioctx, string oid, nint mtime, int flags);

    /// <summary>The number of bytes read, or a negative errno.</summary>
    [LibraryImport(Rados, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int rados_read(nint ioctx, string oid, byte* buffer, nuint length, ulong offset);

    /// <summary>The value's length, or a negative errno (-ERANGE when the buffer is too small).</summary>
    [LibraryImport(Rados, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int rados_getxattr(nint ioctx, string oid, string name, byte* buffer, nuint length);

    /// <summary>
    /// rados_watchcb2_t: void (*)(void *arg, uint64_t notify_id, uint64_t handle, uint64_t notifier_id, void *data,
    /// size_t data_len); rados_watcherrcb_t: void (*)(void *arg, uint64_t cookie, int err). Both on librados threads.
    /// </summary>
    [LibraryImport(Rados, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int rados_watch2(nint ioctx, string oid, out ulong cookie,
        delegate* unmanaged[Cdecl]<nint, ulong, ulong, ulong, nint, nuint, void> watch,
        delegate* unmanaged[Cdecl]<nint, ulong, int, void> error, nint arg);

    /// <summary>Milliseconds since the watch was last confirmed by the OSD, or a negative errno when it is broken.</summary>
    [LibraryImport(Rados)]
    public static partial int rados_watch_check(nint ioctx, ulong cookie);

    [LibraryImport(Rados)]
    public static partial int rados_unwatch2(nint ioctx, ulong cookie);

    /// <summary>Waits until every watch callback already queued has run (after unwatch, before the argument is freed).</summary>
    [LibraryImport(Rados)]
    public static partial int rados_watch_flush(nint cluster);

    /// <summary>Sends to every watcher and waits for their acks or <paramref name="timeoutMs"/>; -ETIMEDOUT when some did not ack.</summary>
    [LibraryImport(Rados, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int rados_notify2(nint ioctx, string oid, byte* buffer, int length, ulong timeoutMs, out nint reply, out nuint replyLength);

    [LibraryImport(Rados, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int rados_notify_ack(nint ioctx, string oid, ulong notifyId, ulong cookie, byte* buffer, int length);

    [LibraryImport(Rados)]
    public static partial void rados_buffer_free(nint buffer);

    /// <summary>librbd: the image's id (unique, kept across renames, not reused by a new image of the same name); -ERANGE when the buffer is too small.</summary>
    [LibraryImport("librbd.so.1")]
    public static partial int rbd_get_id(nint image, byte* id, nuint length);
}
