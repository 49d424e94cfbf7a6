using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace NvmeMptls.Target.Namespaces;

/// <summary>
/// A namespace on a Linux block device (/dev/loop0, /dev/nvme0n1, /dev/mapper/...). The size and logical block
/// size come from the BLKGETSIZE64 / BLKSSZGET ioctls; deallocate is BLKDISCARD and write-zeroes BLKZEROOUT,
/// each falling back to writing zeroes when the device refuses. I/O goes through the page cache with pread and
/// pwrite; FUA writes use a second O_SYNC handle.
/// </summary>
/// <remarks>
/// Whether a discarded range reads back as zeroes is up to the device: loop devices punch a hole and so read
/// zeroes; an SSD may not. WriteZeroes (with or without deallocate) always guarantees zeroes.
/// </remarks>
public sealed class BlockDeviceBackend : PositionalBlockDevice
{
    private volatile bool _discardUnsupported;
    private volatile bool _zeroOutUnsupported;

    private static readonly Action<PositionalBlockDevice, long, long> s_zeroOut =
        static (device, offset, length) => ((BlockDeviceBackend)device).ZeroOut(offset, length);

    private static readonly Action<PositionalBlockDevice, long, long> s_discard =
        static (device, offset, length) => ((BlockDeviceBackend)device).Discard(offset, length);

    private BlockDeviceBackend(string path, PositionalFile file, long sizeBytes, int logicalBlockSize, long deviceSizeBytes, int deviceBlockSize, ILogger logger,
        IoEngine engine)
        : base(path, file, sizeBytes, logicalBlockSize, logger, engine)
    {
        DeviceSizeBytes = deviceSizeBytes;
        DeviceLogicalBlockSize = deviceBlockSize;
    }

    public override string Kind => "block";

    /// <summary>The whole device, as BLKGETSIZE64 reports it.</summary>
    public long DeviceSizeBytes { get; }

    /// <summary>The device's own logical block size (BLKSSZGET).</summary>
    public int DeviceLogicalBlockSize { get; }

    /// <summary>
    /// Opens a block device. <paramref name="sizeBytes"/> may limit the namespace to the start of the device;
    /// <paramref name="logicalBlockSize"/> defaults to the device's own and may not be smaller than it.
    /// </summary>
    public static BlockDeviceBackend Open(string path, long? sizeBytes = null, int? logicalBlockSize = null, bool readOnly = false, ILogger? logger = null,
        IoEngine engine = IoEngine.IoUring)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (!OperatingSystem.IsLinux())
        {
            throw new PlatformNotSupportedException("block device namespaces need Linux block ioctls");
        }

        logger ??= NullLogger.Instance;
        PositionalFile file = PositionalFile.Open(path, readOnly);
        try
        {
            if (!LinuxBlockIo.TryGetSize(file.Handle, out long deviceSize, out int errno))
            {
                throw new IOException(errno == LinuxBlockIo.ENOTTY
                    ? $"{path} is not a block device (use file backing for regular files)"
                    : $"BLKGETSIZE64 on {path} failed with errno {errno}");
            }

            if (!LinuxBlockIo.TryGetLogicalBlockSize(file.Handle, out int deviceBlock, out errno))
            {
                throw new IOException($"BLKSSZGET on {path} failed with errno {errno}");
            }

            int lba = logicalBlockSize ?? Math.Max(deviceBlock, 512);
            if (lba is not (512 or 4096))
            {
                throw new IOException($"{path}: logical block size {lba} is not supported (512 or 4096)");
            }

            if (lba < deviceBlock)
            {
                throw new IOException($"{path}: LBA size {lba} is smaller than the device's logical block size {deviceBlock}");
            }

            long size = sizeBytes ?? deviceSize / lba * lba;
            if (size <= 0 || size % lba != 0 || size > deviceSize)
            {
                throw new IOException($"{path}: namespace size {size} must be a positive multiple of {lba} no larger than the device ({deviceSize} bytes)");
            }

            NamespaceLog.BlockDeviceOpened(logger, path, deviceSize, deviceBlock, size, lba);
            return new BlockDeviceBackend(path, file, size, lba, deviceSize, deviceBlock, logger, engine);
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    public override ValueTask WriteZeroesAsync(long offset, long length, bool deallocate, CancellationToken cancellationToken = default)
    {
        CheckWritableRange(offset, length);

        // BLKZEROOUT lets the kernel unmap when the device can guarantee zeroes, so "deallocate" needs nothing extra.
        return RunBlocking(s_zeroOut, offset, length);
    }

    public override ValueTask DeallocateAsync(long offset, long length, CancellationToken cancellationToken = default)
    {
        CheckWritableRange(offset, length);
        return RunBlocking(s_discard, offset, length);
    }

    private void Discard(long offset, long length)
    {
        if (!_discardUnsupported)
        {
            if (LinuxBlockIo.TryDiscard(Storage.Handle, offset, length, out int errno))
            {
                return;
            }

            ThrowUnlessUnsupported("BLKDISCARD", errno, offset, length);
            _discardUnsupported = true;
            NamespaceLog.FallingBackToZeroes(Logger, "BLKDISCARD", Path, errno);
        }

        ZeroOut(offset, length);
    }

    private void ZeroOut(long offset, long length)
    {
        if (!_zeroOutUnsupported)
        {
            if (LinuxBlockIo.TryZeroOut(Storage.Handle, offset, length, out int errno))
            {
                return;
            }

            ThrowUnlessUnsupported("BLKZEROOUT", errno, offset, length);
            _zeroOutUnsupported = true;
            NamespaceLog.FallingBackToZeroes(Logger, "BLKZEROOUT", Path, errno);
        }

        Storage.WriteZeroes(offset, length);
    }

    private void ThrowUnlessUnsupported(string operation, int errno, long offset, long length)
    {
        // EINVAL here means the request itself is fine but the device has no discard/zeroout support (no queue limits).
        if (errno is not (LinuxBlockIo.EOPNOTSUPP or LinuxBlockIo.ENOTTY or LinuxBlockIo.EINVAL))
        {
            throw new IOException($"{operation} on {Path} at {offset}+{length} failed with errno {errno}");
        }
    }
}
