using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace NvmeMptls.Target.Namespaces;

/// <summary>
/// The librados/librbd C API calls an RBD namespace needs (Debian 12: librados2 and librbd1, Ceph 16). Every
/// handle is an opaque pointer; every call returns 0 or a negative errno, as &lt;rados/librados.h&gt; and
/// &lt;rbd/librbd.h&gt; declare them. No managed Ceph client exists, so this is the whole binding.
/// </summary>
internal static unsafe partial class RbdNative
{
    private const string Rados = "librados.so.2";
    private const string Rbd = "librbd.so.1";

    // errno values librados/librbd return negated; EBLOCKLISTED is ESHUTDOWN in Ceph's headers.
    public const int ENOENT = 2;
    public const int ENOTCONN = 107;
    public const int ESHUTDOWN = 108;
    public const int ETIMEDOUT = 110;

    [LibraryImport(Rados, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int rados_create(out nint cluster, string? id);

    [LibraryImport(Rados, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int rados_conf_read_file(nint cluster, string? path);

    [LibraryImport(Rados, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int rados_conf_set(nint cluster, string option, string value);

    [LibraryImport(Rados)]
    public static partial int rados_connect(nint cluster);

    [LibraryImport(Rados)]
    public static partial void rados_shutdown(nint cluster);

    /// <summary>The client's messenger addresses ("[v2:127.0.0.1:0/123,v1:…]"), the form `ceph osd blocklist add` takes.</summary>
    [LibraryImport(Rados)]
    public static partial int rados_getaddrs(nint cluster, out nint addresses);

    [LibraryImport(Rados)]
    public static partial void rados_buffer_free(nint buffer);

    [LibraryImport(Rados, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int rados_ioctx_create(nint cluster, string pool, out nint ioctx);

    [LibraryImport(Rados, StringMarshalling = StringMarshalling.Utf8)]
    public static partial void rados_ioctx_set_namespace(nint ioctx, string? radosNamespace);

    [LibraryImport(Rados)]
    public static partial void rados_ioctx_destroy(nint ioctx);

    [LibraryImport(Rbd, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int rbd_open(nint ioctx, string name, out nint image, string? snapshot);

    [LibraryImport(Rbd, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int rbd_open_read_only(nint ioctx, string name, out nint image, string? snapshot);

    [LibraryImport(Rbd)]
    public static partial int rbd_close(nint image);

    [LibraryImport(Rbd, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int rbd_metadata_set(nint image, string key, string value);

    /// <summary>-ERANGE (and the needed length in <paramref name="length"/>) when the buffer is too small; -ENOENT when unset.</summary>
    [LibraryImport(Rbd, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int rbd_metadata_get(nint image, string key, byte* value, ref nuint length);

    [LibraryImport(Rbd)]
    public static partial int rbd_get_size(nint image, out ulong size);

    /// <summary>rbd_callback_t: void (*)(rbd_completion_t, void *arg), called once on a librbd thread.</summary>
    [LibraryImport(Rbd)]
    public static partial int rbd_aio_create_completion(nint arg, delegate* unmanaged[Cdecl]<nint, nint, void> callback, out nint completion);

    /// <summary>0 for a write, flush, discard or write-zeroes; the byte count for a read; a negative errno on failure.</summary>
    [LibraryImport(Rbd)]
    public static partial nint rbd_aio_get_return_value(nint completion);

    [LibraryImport(Rbd)]
    public static partial void rbd_aio_release(nint completion);

    [LibraryImport(Rbd)]
    public static partial int rbd_aio_read(nint image, ulong offset, nuint length, byte* buffer, nint completion);

    [LibraryImport(Rbd)]
    public static partial int rbd_aio_write(nint image, ulong offset, nuint length, byte* buffer, nint completion);

    [LibraryImport(Rbd)]
    public static partial int rbd_aio_flush(nint image, nint completion);

    /// <summary>Zeroes exactly the range (whole objects are deallocated); unlike rbd_aio_discard it never skips partial objects.</summary>
    [LibraryImport(Rbd)]
    public static partial int rbd_aio_write_zeroes(nint image, ulong offset, nuint length, nint completion, int zeroFlags, int opFlags);

    /// <summary>The callback every aio completion names; its argument is the <see cref="RbdOperation"/>'s GCHandle.</summary>
    public static delegate* unmanaged[Cdecl]<nint, nint, void> CompletionCallback => &OnCompleted;

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static void OnCompleted(nint completion, nint arg)
    {
        long result = rbd_aio_get_return_value(completion);
        rbd_aio_release(completion);
        RbdOperation.FromHandle(arg).OnNativeCompleted(result);
    }

    /// <summary>The name of an errno, for messages; only the ones Ceph clients meet.</summary>
    public static string ErrnoName(int errno) => errno switch
    {
        1 => "EPERM",
        ENOENT => "ENOENT",
        5 => "EIO",
        12 => "ENOMEM",
        13 => "EACCES",
        16 => "EBUSY",
        22 => "EINVAL",
        28 => "ENOSPC",
        30 => "EROFS",
        34 => "ERANGE",
        85 => "ERESTART",
        95 => "EOPNOTSUPP",
        ENOTCONN => "ENOTCONN",
        ESHUTDOWN => "ESHUTDOWN (blocklisted or shut down)",
        ETIMEDOUT => "ETIMEDOUT",
        122 => "EDQUOT",
        _ => "errno " + errno.ToString(System.Globalization.CultureInfo.InvariantCulture),
    };
}
