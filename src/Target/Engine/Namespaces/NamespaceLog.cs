using Microsoft.Extensions.Logging;

namespace NvmeMptls.Target.Namespaces;

internal static partial class NamespaceLog
{
    [LoggerMessage(EventId = 3300, Level = LogLevel.Information, Message = "Created sparse file namespace {Path} of {SizeBytes} bytes")]
    public static partial void FileCreated(ILogger logger, string path, long sizeBytes);

    [LoggerMessage(EventId = 3301, Level = LogLevel.Information, Message = "Extended file namespace {Path} from {OldSizeBytes} to {SizeBytes} bytes")]
    public static partial void FileExtended(ILogger logger, string path, long oldSizeBytes, long sizeBytes);

    [LoggerMessage(EventId = 3302, Level = LogLevel.Information, Message = "File {Path} is {FileSizeBytes} bytes; the namespace uses the first {SizeBytes}")]
    public static partial void FileLargerThanNamespace(ILogger logger, string path, long fileSizeBytes, long sizeBytes);

    [LoggerMessage(EventId = 3303, Level = LogLevel.Warning, Message = "{Operation} is not supported on {Path} (errno {Errno}); writing zeroes instead from now on")]
    public static partial void FallingBackToZeroes(ILogger logger, string operation, string path, int errno);

    [LoggerMessage(EventId = 3304, Level = LogLevel.Information, Message = "Opened block device {Path}: {DeviceSizeBytes} bytes, logical block {DeviceBlockSize}; namespace {SizeBytes} bytes, LBA {LbaSize}")]
    public static partial void BlockDeviceOpened(ILogger logger, string path, long deviceSizeBytes, int deviceBlockSize, long sizeBytes, int lbaSize);

    [LoggerMessage(EventId = 3305, Level = LogLevel.Information, Message = "Opened rbd image {Image}: {ImageSizeBytes} bytes, LBA {LbaSize}, as client.{CephId}")]
    public static partial void RbdImageOpened(ILogger logger, string image, long imageSizeBytes, int lbaSize, string cephId);

    [LoggerMessage(EventId = 3306, Level = LogLevel.Information, Message = "rbd image {Image} resized from {OldSizeBytes} to {SizeBytes} bytes")]
    public static partial void RbdImageResized(ILogger logger, string image, long oldSizeBytes, long sizeBytes);

    [LoggerMessage(EventId = 3310, Level = LogLevel.Information, Message = "Namespace {Path}: I/O engine {Engine} ({Entries}-entry ring, one reaping thread)")]
    public static partial void IoUringEngine(ILogger logger, string path, string engine, int entries);

    [LoggerMessage(EventId = 3311, Level = LogLevel.Warning, Message = "Namespace {Path}: io_uring is unavailable ({Reason}); falling back to the positional engine (pread/pwrite on the thread pool)")]
    public static partial void IoUringUnavailable(ILogger logger, string path, string reason);

    [LoggerMessage(EventId = 3312, Level = LogLevel.Warning, Message = "Namespace {Path}: O_DIRECT is not possible ({Reason}); io_uring goes through the page cache")]
    public static partial void DirectIoUnavailable(ILogger logger, string path, string reason);

    [LoggerMessage(EventId = 3313, Level = LogLevel.Warning, Message = "Namespace {Path}: io_uring_enter failed with errno {Errno}; retrying")]
    public static partial void IoUringEnterFailed(ILogger logger, string path, int errno);

    [LoggerMessage(EventId = 3314, Level = LogLevel.Information, Message = "Namespace {Path}: I/O engine positional (pread/pwrite on the thread pool), as configured")]
    public static partial void PositionalEngine(ILogger logger, string path);

    [LoggerMessage(EventId = 3315, Level = LogLevel.Warning, Message = "Namespace {Path}: {InFlight} io_uring requests still in the kernel at close; the ring is released when they complete")]
    public static partial void IoUringDrainTimedOut(ILogger logger, string path, int inFlight);
}
