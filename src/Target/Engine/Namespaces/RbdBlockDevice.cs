using System.Collections.Concurrent;
using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace NvmeMptls.Target.Namespaces;

/// <summary>Where an RBD namespace's image is and how to reach the cluster; nulls take librados' defaults.</summary>
/// <param name="Pool">RADOS pool of the image.</param>
/// <param name="Image">RBD image name.</param>
/// <param name="RadosNamespace">RADOS namespace inside the pool (rbd --namespace), or null.</param>
/// <param name="CephConf">ceph.conf path; null searches librados' default locations (/etc/ceph/ceph.conf, $CEPH_CONF).</param>
/// <param name="CephId">Client id without "client." (e.g. "admin"); null is librados' default (admin).</param>
/// <param name="Keyring">Keyring path; null takes the one ceph.conf names.</param>
/// <param name="Cache">librbd's client cache (rbd_cache); null keeps ceph.conf's. A gateway group turns it off, so a
/// write is acknowledged only once the OSDs have it and a fenced gateway cannot acknowledge one from its cache.</param>
public sealed record RbdImageLocation(string Pool, string Image, string? RadosNamespace = null, string? CephConf = null, string? CephId = null, string? Keyring = null,
    bool? Cache = null)
{
    public override string ToString() => RadosNamespace is null ? $"{Pool}/{Image}" : $"{Pool}/{RadosNamespace}/{Image}";
}

/// <summary>
/// A namespace on a Ceph RBD image through librbd's C API. Every operation is a librbd aio request whose
/// completion callback resumes the command (<see cref="RbdOperation"/>): no thread waits per I/O, so
/// <see cref="CompletesInline"/> is true — submitting only queues the request inside librbd, and the executor can
/// start it on the receiving thread. FUA is a write followed by a flush; deallocate and write-zeroes are librbd
/// write-zeroes, which unmaps whole objects and zeroes the rest, so deallocated blocks read as zeroes as DLFEAT
/// promises. A fenced (blocklisted) or timed-out client fails I/O with <see cref="DevicePathException"/>.
/// The image size is polled; a change (rbd resize elsewhere) raises <see cref="SizeChanged"/>.
/// </summary>
public sealed partial class RbdBlockDevice : IBlockDevice
{
    /// <summary>How long librados waits for an OSD or the monitors before failing a request with ETIMEDOUT.</summary>
    public static readonly TimeSpan DefaultOperationTimeout = TimeSpan.FromSeconds(30);

    /// <summary>How often the image size is read to notice a resize.</summary>
    public static readonly TimeSpan DefaultSizePollInterval = TimeSpan.FromSeconds(2);

    private readonly ConcurrentQueue<RbdOperation> _pool = new();
    private readonly ILogger _logger;
    private readonly bool _readOnly;
    private readonly ITimer? _sizePoll;
    private nint _cluster;
    private nint _ioctx;
    private nint _image;
    private long _sizeBytes;
    private int _disposed;

    private RbdBlockDevice(RbdImageLocation location, nint cluster, nint ioctx, nint image, long sizeBytes, int logicalBlockSize, bool readOnly,
        TimeProvider timeProvider, TimeSpan sizePollInterval, ILogger logger)
    {
        Location = location;
        _cluster = cluster;
        _ioctx = ioctx;
        _image = image;
        _sizeBytes = sizeBytes;
        LogicalBlockSize = logicalBlockSize;
        _readOnly = readOnly;
        _logger = logger;
        if (sizePollInterval > TimeSpan.Zero)
        {
            _sizePoll = timeProvider.CreateTimer(static s => ((RbdBlockDevice)s!).PollSize(), this, sizePollInterval, sizePollInterval);
        }
    }

    public string Kind => "rbd";

    public bool CompletesInline => true;

    public string Description => "rbd:" + Location;

    public RbdImageLocation Location { get; }

    public long SizeBytes => Volatile.Read(ref _sizeBytes);

    public int LogicalBlockSize { get; }

    /// <summary>Raised (on a timer thread) after the image was resized and <see cref="SizeBytes"/> changed.</summary>
    public event Action<IBlockDevice>? SizeChanged;

    internal nint Image => _image;

    /// <summary>The librados cluster handle and pool I/O context of the image (for objects beside it).</summary>
    internal nint Cluster => _cluster;

    internal nint IoContext => _ioctx;

    /// <summary>Runs (on a pool thread) just before the handles close: users of <see cref="IoContext"/> stop there.</summary>
    internal event Action? Closing;

    /// <summary>
    /// Connects to the cluster and opens the image. The namespace is the whole image (rounded down to whole
    /// blocks); a resize of the image is followed at run time.
    /// </summary>
    public static RbdBlockDevice Open(RbdImageLocation location, int logicalBlockSize = 512, bool readOnly = false, TimeSpan? operationTimeout = null,
        TimeSpan? sizePollInterval = null, TimeProvider? timeProvider = null, ILogger? logger = null)
    {
        ArgumentNullException.ThrowIfNull(location);
        if (!OperatingSystem.IsLinux())
        {
            throw new PlatformNotSupportedException("RBD namespaces need librbd (Linux)");
        }

        if (logicalBlockSize is not (512 or 4096))
        {
            throw new ArgumentOutOfRangeException(nameof(logicalBlockSize), logicalBlockSize, "512 or 4096");
        }

        logger ??= NullLogger.Instance;
        nint cluster = 0, ioctx = 0, image = 0;
        try
        {
            cluster = Connect(location, operationTimeout ?? DefaultOperationTimeout);
            Check(RbdNative.rados_ioctx_create(cluster, location.Pool, out ioctx), location, "rados_ioctx_create");
            if (location.RadosNamespace is not null)
            {
                RbdNative.rados_ioctx_set_namespace(ioctx, location.RadosNamespace);
            }

            Check(readOnly
                ? RbdNative.rbd_open_read_only(ioctx, location.Image, out image, null)
                : RbdNative.rbd_open(ioctx, location.Image, out image, null), location, "rbd_open");
            Check(RbdNative.rbd_get_size(image, out ulong imageSize), location, "rbd_get_size");
            long size = (long)imageSize / logicalBlockSize * logicalBlockSize;
            if (size <= 0)
            {
                throw new IOException($"rbd image {location} is {imageSize} bytes, smaller than one {logicalBlockSize}-byte block");
            }

            NamespaceLog.RbdImageOpened(logger, location.ToString(), (long)imageSize, logicalBlockSize, location.CephId ?? "admin");
            var device = new RbdBlockDevice(location, cluster, ioctx, image, size, logicalBlockSize, readOnly,
                timeProvider ?? TimeProvider.System, sizePollInterval ?? DefaultSizePollInterval, logger);
            cluster = ioctx = image = 0;
            return device;
        }
        finally
        {
            Close(cluster, ioctx, image);
        }
    }

    private static nint Connect(RbdImageLocation location, TimeSpan operationTimeout)
    {
        Check(RbdNative.rados_create(out nint cluster, location.CephId), location, "rados_create");
        try
        {
            Check(RbdNative.rados_conf_read_file(cluster, location.CephConf), location, $"reading {location.CephConf ?? "the default ceph.conf"}");
            if (location.Keyring is not null)
            {
                Check(RbdNative.rados_conf_set(cluster, "keyring", location.Keyring), location, "setting keyring");
            }

            // Without a timeout librados waits for an unreachable cluster forever; with it the command fails with
            // ETIMEDOUT, a path error, and a multipath host tries another gateway.
            string seconds = Math.Max(1, (int)operationTimeout.TotalSeconds).ToString(System.Globalization.CultureInfo.InvariantCulture);
            Check(RbdNative.rados_conf_set(cluster, "rados_osd_op_timeout", seconds), location, "setting rados_osd_op_timeout");
            Check(RbdNative.rados_conf_set(cluster, "rados_mon_op_timeout", seconds), location, "setting rados_mon_op_timeout");
            Check(RbdNative.rados_conf_set(cluster, "client_mount_timeout", seconds), location, "setting client_mount_timeout");
            if (location.Cache is { } cache)
            {
                Check(RbdNative.rados_conf_set(cluster, "rbd_cache", cache ? "true" : "false"), location, "setting rbd_cache");
            }

            Check(RbdNative.rados_connect(cluster), location, "rados_connect");
            return cluster;
        }
        catch
        {
            RbdNative.rados_shutdown(cluster);
            throw;
        }
    }

    /// <summary>This client's addresses as librados reports them (what `ceph osd blocklist add` takes).</summary>
    public string ClientAddresses()
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        Check(RbdNative.rados_getaddrs(_cluster, out nint addresses), Location, "rados_getaddrs");
        try
        {
            return Marshal.PtrToStringUTF8(addresses) ?? "";
        }
        finally
        {
            RbdNative.rados_buffer_free(addresses);
        }
    }

    public ValueTask ReadAsync(long offset, Memory<byte> destination, CancellationToken cancellationToken = default) =>
        Rent().Start(RbdRequest.Read, offset, destination.Length, destination);

    public ValueTask WriteAsync(long offset, ReadOnlyMemory<byte> source, bool forceUnitAccess, CancellationToken cancellationToken = default)
    {
        CheckWritable();
        return Rent().Start(forceUnitAccess ? RbdRequest.WriteThenFlush : RbdRequest.Write, offset, source.Length, source);
    }

    public ValueTask FlushAsync(CancellationToken cancellationToken = default) =>
        _readOnly ? ValueTask.CompletedTask : Rent().Start(RbdRequest.Flush, 0, 0, default);

    public ValueTask WriteZeroesAsync(long offset, long length, bool deallocate, CancellationToken cancellationToken = default)
    {
        CheckWritable();
        return Rent().Start(RbdRequest.WriteZeroes, offset, length, default);
    }

    public ValueTask DeallocateAsync(long offset, long length, CancellationToken cancellationToken = default) =>
        WriteZeroesAsync(offset, length, deallocate: true, cancellationToken);

    private void CheckWritable()
    {
        if (_readOnly)
        {
            throw new IOException($"rbd image {Location} is open read-only");
        }
    }

    private RbdOperation Rent()
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        return _pool.TryDequeue(out RbdOperation? op) ? op : new RbdOperation(this);
    }

    internal void Return(RbdOperation op)
    {
        if (Volatile.Read(ref _disposed) != 0)
        {
            op.Free();
            return;
        }

        _pool.Enqueue(op);
    }

    /// <summary>
    /// A failed librbd request as the engine maps it: fenced, shut-down or timed-out clients are path errors (try
    /// another gateway), anything else an I/O error of the request.
    /// </summary>
    internal IOException ToException(RbdRequest request, long offset, long length, int rc)
    {
        int errno = -rc;
        string message = $"rbd {request} on {Location} at {offset}+{length} failed: {RbdNative.ErrnoName(errno)}";
        return errno is RbdNative.ESHUTDOWN or RbdNative.ETIMEDOUT or RbdNative.ENOTCONN
            ? new DevicePathException(message)
            : new IOException(message);
    }

    private void PollSize()
    {
        if (Volatile.Read(ref _disposed) != 0 || RbdNative.rbd_get_size(_image, out ulong imageSize) < 0)
        {
            return;
        }

        long size = (long)imageSize / LogicalBlockSize * LogicalBlockSize;
        long old = Interlocked.Exchange(ref _sizeBytes, size);
        if (old != size && size > 0)
        {
            NamespaceLog.RbdImageResized(_logger, Location.ToString(), old, size);
            SizeChanged?.Invoke(this);
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        if (_sizePoll is not null)
        {
            await _sizePoll.DisposeAsync().ConfigureAwait(false);
        }

        // rbd_close waits for the image's requests in flight, so every callback has run when it returns.
        await Task.Run(() =>
        {
            Closing?.Invoke();
            Close(_cluster, _ioctx, _image);
        }).ConfigureAwait(false);
        _image = _ioctx = _cluster = 0;
        while (_pool.TryDequeue(out RbdOperation? op))
        {
            op.Free();
        }
    }

    private static void Close(nint cluster, nint ioctx, nint image)
    {
        if (image != 0)
        {
            _ = RbdNative.rbd_close(image);
        }

        if (ioctx != 0)
        {
            RbdNative.rados_ioctx_destroy(ioctx);
        }

        if (cluster != 0)
        {
            RbdNative.rados_shutdown(cluster);
        }
    }

    private static void Check(int rc, RbdImageLocation location, string what)
    {
        if (rc < 0)
        {
            int errno = -rc;
            throw new IOException($"rbd image {location}: {what} failed: {RbdNative.ErrnoName(errno)}");
        }
    }
}
