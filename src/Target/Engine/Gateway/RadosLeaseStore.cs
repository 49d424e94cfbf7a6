using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using NvmeMptls.Target.Namespaces;

namespace NvmeMptls.Target.Gateway;

/// <summary>Where the gateway group's lease objects live and how to reach the cluster.</summary>
/// <param name="Pool">RADOS pool of the lease objects.</param>
/// <param name="RadosNamespace">RADOS namespace inside the pool, or null.</param>
/// <param name="CephConf">ceph.conf path, or null for librados' defaults.</param>
/// <param name="CephId">Client id without "client.", or null for admin.</param>
/// <param name="OperationTimeout">How long librados waits for an OSD or a monitor before failing a call.</param>
public sealed record RadosLeaseLocation(string Pool, string? RadosNamespace, string? CephConf, string? CephId, TimeSpan OperationTimeout);

/// <summary>
/// One ANA group's lease object through librados, with a RADOS client of its own, so fencing the holder of one group
/// (its lease client and the image clients its cookie names) leaves that gateway's other groups alone. The lock is
/// cls_lock's exclusive lock named <see cref="LockName"/> with a duration; the owner and planned-release attributes
/// are extended attributes of the same object.
/// </summary>
public sealed unsafe class RadosLeaseStore : IGatewayLeaseStore
{
    public const string LockName = "nvmemptls-gateway";
    private const string OwnerAttribute = "nvmemptls.owner";
    private const string ReleasedAttribute = "nvmemptls.released";

    private readonly string _object;
    private nint _cluster;
    private nint _ioctx;

    private RadosLeaseStore(string objectName, nint cluster, nint ioctx, string address)
    {
        _object = objectName;
        _cluster = cluster;
        _ioctx = ioctx;
        ClientAddress = address;
    }

    public string ClientAddress { get; }

    public string ObjectName => _object;

    /// <summary>The lease object of one ANA group of a gateway group.</summary>
    public static string ObjectNameFor(string gatewayGroup, uint anaGroup) =>
        $"nvmemptls.gateway.{gatewayGroup}.ana.{anaGroup.ToString(CultureInfo.InvariantCulture)}";

    public static RadosLeaseStore Open(RadosLeaseLocation location, string objectName)
    {
        ArgumentNullException.ThrowIfNull(location);
        if (!OperatingSystem.IsLinux())
        {
            throw new PlatformNotSupportedException("gateway leases need librados (Linux)");
        }

        Check(RbdNative.rados_create(out nint cluster, location.CephId), "rados_create");
        nint ioctx = 0;
        try
        {
            Check(RbdNative.rados_conf_read_file(cluster, location.CephConf), $"reading {location.CephConf ?? "the default ceph.conf"}");
            string seconds = Math.Max(1, (int)location.OperationTimeout.TotalSeconds).ToString(CultureInfo.InvariantCulture);
            Check(RbdNative.rados_conf_set(cluster, "rados_osd_op_timeout", seconds), "setting rados_osd_op_timeout");
            Check(RbdNative.rados_conf_set(cluster, "rados_mon_op_timeout", seconds), "setting rados_mon_op_timeout");
            Check(RbdNative.rados_conf_set(cluster, "client_mount_timeout", seconds), "setting client_mount_timeout");
            Check(RbdNative.rados_connect(cluster), "rados_connect");
            Check(RbdNative.rados_ioctx_create(cluster, location.Pool, out ioctx), $"opening pool {location.Pool}");
            if (location.RadosNamespace is not null)
            {
                RbdNative.rados_ioctx_set_namespace(ioctx, location.RadosNamespace);
            }

            Check(RbdNative.rados_getaddrs(cluster, out nint addresses), "rados_getaddrs");
            string address;
            try
            {
                address = GatewayCookie.ParseClientAddresses(Marshal.PtrToStringUTF8(addresses) ?? "").FirstOrDefault() ?? "";
            }
            finally
            {
                RbdNative.rados_buffer_free(addresses);
            }

            var store = new RadosLeaseStore(objectName, cluster, ioctx, address);
            cluster = ioctx = 0;
            return store;
        }
        finally
        {
            if (ioctx != 0)
            {
                RbdNative.rados_ioctx_destroy(ioctx);
            }

            if (cluster != 0)
            {
                RbdNative.rados_shutdown(cluster);
            }
        }
    }

    public LeaseLockResult Lock(string cookie, TimeSpan duration, bool renew, out string detail)
    {
        var tv = RadosLockNative.TimeVal.From(duration);
        int rc = RadosLockNative.rados_lock_exclusive(_ioctx, _object, LockName, cookie, "nvmemptls gateway lease", &tv,
            renew ? RadosLockNative.LockFlagMustRenew : (byte)0);
        detail = rc < 0 ? RbdNative.ErrnoName(-rc) : "";
        return -rc switch
        {
            0 => LeaseLockResult.Acquired,
            RadosLockNative.EBUSY => LeaseLockResult.Busy,
            RadosLockNative.EEXIST => LeaseLockResult.Busy,
            RbdNative.ENOENT => LeaseLockResult.NotHeld,
            RbdNative.ESHUTDOWN => LeaseLockResult.Fenced,
            _ => LeaseLockResult.Failed,
        };
    }

    public bool Unlock(string cookie) => RadosLockNative.rados_unlock(_ioctx, _object, LockName, cookie) == 0;

    public LeaseObservation Observe()
    {
        var (cookie, address) = ReadLocker();
        string? released = GetAttribute(ReleasedAttribute);
        string? to = null;
        if (released is not null && released.IndexOf('>', StringComparison.Ordinal) is var gt and >= 0)
        {
            to = released[(gt + 1)..];
            released = released[..gt];
        }

        return new LeaseObservation(cookie, address, GetAttribute(OwnerAttribute), released, to);
    }

    public void RecordOwner(string cookie) => SetAttribute(OwnerAttribute, cookie);

    public void RecordRelease(string cookie, string target) => SetAttribute(ReleasedAttribute, cookie + ">" + target);

    public void Fence(IReadOnlyList<string> addresses, TimeSpan expiry)
    {
        ArgumentNullException.ThrowIfNull(addresses);
        foreach (string address in addresses)
        {
            // Ceph 16 calls it "blocklist" (15 and older: "blacklist").
            string command = $"{{\"prefix\":\"osd blocklist\",\"blocklistop\":\"add\",\"addr\":\"{address}\",\"expire\":{((int)expiry.TotalSeconds).ToString(CultureInfo.InvariantCulture)}.0}}";
            MonCommand(command);
        }

        // The OSDs enforce the blocklist from the map that carries it; librbd's lock breaking waits the same way.
        Check(RadosLockNative.rados_wait_for_latest_osdmap(_cluster), "rados_wait_for_latest_osdmap");
    }

    private void MonCommand(string json)
    {
        nint text = Marshal.StringToCoTaskMemUTF8(json);
        try
        {
            nint* commands = stackalloc nint[1];
            commands[0] = text;
            int rc = RadosLockNative.rados_mon_command(_cluster, commands, 1, null, 0, out nint output, out _, out nint status, out nuint statusLength);
            string message = status != 0 && statusLength > 0 ? Encoding.UTF8.GetString((byte*)status, (int)statusLength) : "";
            if (output != 0)
            {
                RbdNative.rados_buffer_free(output);
            }

            if (status != 0)
            {
                RbdNative.rados_buffer_free(status);
            }

            if (rc < 0)
            {
                throw new IOException($"ceph mon command {json} failed: {RbdNative.ErrnoName(-rc)} {message}");
            }
        }
        finally
        {
            Marshal.FreeCoTaskMem(text);
        }
    }

    private (string? Cookie, string? Address) ReadLocker()
    {
        nuint size = 512;
        while (true)
        {
            byte[] tag = new byte[size], clients = new byte[size], cookies = new byte[size], addresses = new byte[size];
            nuint tagLength = size, clientsLength = size, cookiesLength = size, addressesLength = size;
            nint rc;
            fixed (byte* t = tag, cl = clients, co = cookies, a = addresses)
            {
                rc = RadosLockNative.rados_list_lockers(_ioctx, _object, LockName, out _, t, ref tagLength, cl, ref clientsLength, co, ref cookiesLength, a, ref addressesLength);
            }

            if (rc == -RadosLockNative.ERANGE)
            {
                size = Math.Max(Math.Max(tagLength, clientsLength), Math.Max(cookiesLength, addressesLength)) + 16;
                continue;
            }

            if (rc == -RbdNative.ENOENT || rc == 0)
            {
                return (null, null);
            }

            if (rc < 0)
            {
                throw new IOException($"rados_list_lockers on {_object} failed: {RbdNative.ErrnoName((int)-rc)}");
            }

            return (FirstString(cookies, cookiesLength), FirstString(addresses, addressesLength));
        }
    }

    private static string FirstString(byte[] buffer, nuint length)
    {
        int end = Array.IndexOf(buffer, (byte)0, 0, (int)Math.Min((nuint)buffer.Length, length));
        return Encoding.UTF8.GetString(buffer, 0, end < 0 ? (int)Math.Min((nuint)buffer.Length, length) : end);
    }

    private string? GetAttribute(string name)
    {
        byte[] buffer = new byte[4096];
        int rc;
        fixed (byte* b = buffer)
        {
            rc = RadosLockNative.rados_getxattr(_ioctx, _object, name, b, (nuint)buffer.Length);
        }

        if (rc == -RadosLockNative.ENODATA || rc == -RbdNative.ENOENT)
        {
            return null;
        }

        if (rc < 0)
        {
            throw new IOException($"reading {name} of {_object} failed: {RbdNative.ErrnoName(-rc)}");
        }

        return Encoding.UTF8.GetString(buffer, 0, rc);
    }

    private void SetAttribute(string name, string value)
    {
        byte[] bytes = Encoding.UTF8.GetBytes(value);
        int rc;
        fixed (byte* b = bytes)
        {
            rc = RadosLockNative.rados_setxattr(_ioctx, _object, name, b, (nuint)bytes.Length);
        }

        if (rc < 0)
        {
            throw new IOException($"writing {name} of {_object} failed: {RbdNative.ErrnoName(-rc)}");
        }
    }

    private static void Check(int rc, string what)
    {
        if (rc < 0)
        {
            throw new IOException($"gateway lease: {what} failed: {RbdNative.ErrnoName(-rc)}");
        }
    }

    public void Dispose()
    {
        if (_ioctx != 0)
        {
            RbdNative.rados_ioctx_destroy(_ioctx);
            _ioctx = 0;
        }

        if (_cluster != 0)
        {
            RbdNative.rados_shutdown(_cluster);
            _cluster = 0;
        }
    }
}
