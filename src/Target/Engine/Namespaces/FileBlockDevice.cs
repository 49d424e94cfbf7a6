using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace NvmeMptls.Target.Namespaces;

/// <summary>
/// A namespace kept in a regular file, read and written with pread/pwrite so requests on different queues run in
/// parallel. A missing file is created sparse at the configured size; a smaller one is extended (still sparse);
/// a larger one is used up to the configured size. Deallocate punches a hole (see the Linux partial) and falls
/// back to writing zeroes where the file system cannot.
/// </summary>
public sealed partial class FileBlockDevice : PositionalBlockDevice
{
    private volatile bool _punchUnsupported;
    private volatile bool _zeroRangeUnsupported;

    private static readonly Action<PositionalBlockDevice, long, long> s_punchHoleOrZero =
        static (device, offset, length) => ((FileBlockDevice)device).PunchHoleOrZero(offset, length);

    private static readonly Action<PositionalBlockDevice, long, long> s_zeroRange =
        static (device, offset, length) => ((FileBlockDevice)device).ZeroRange(offset, length);

    private FileBlockDevice(string path, PositionalFile file, long sizeBytes, int logicalBlockSize, ILogger logger, IoEngine engine)
        : base(path, file, sizeBytes, logicalBlockSize, logger, engine)
    {
    }

    public override string Kind => "file";

    /// <summary>
    /// Opens <paramref name="path"/>, creating it when missing (then <paramref name="sizeBytes"/> is required).
    /// With no size the namespace covers the whole file, rounded down to a whole logical block. <paramref name="engine"/>
    /// chooses io_uring (O_DIRECT where possible; falls back to positional where the kernel refuses io_uring) or pread/pwrite.
    /// </summary>
    public static FileBlockDevice Open(string path, long? sizeBytes, int logicalBlockSize = 512, bool readOnly = false, ILogger? logger = null,
        IoEngine engine = IoEngine.IoUring)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (logicalBlockSize is not (512 or 4096))
        {
            throw new ArgumentOutOfRangeException(nameof(logicalBlockSize), logicalBlockSize, "must be 512 or 4096");
        }

        if (sizeBytes is { } wanted && (wanted <= 0 || wanted % logicalBlockSize != 0))
        {
            throw new ArgumentOutOfRangeException(nameof(sizeBytes), wanted, "must be a positive multiple of the logical block size");
        }

        logger ??= NullLogger.Instance;
        string fullPath = System.IO.Path.GetFullPath(path);
        if (Directory.Exists(fullPath))
        {
            throw new IOException($"{fullPath} is a directory, not a file");
        }

        bool created = false;
        if (!File.Exists(fullPath))
        {
            if (readOnly)
            {
                throw new FileNotFoundException($"read-only file namespace {fullPath} does not exist", fullPath);
            }

            if (sizeBytes is null)
            {
                throw new ArgumentException($"{fullPath} does not exist and no size was given to create it", nameof(sizeBytes));
            }

            // CreateNew: if someone else creates it in between, fail rather than silently adopt their file.
            File.OpenHandle(fullPath, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.ReadWrite).Dispose();
            created = true;
        }

        PositionalFile file = PositionalFile.Open(fullPath, readOnly);
        try
        {
            long fileSize = RandomAccess.GetLength(file.Handle);
            long size = sizeBytes ?? fileSize / logicalBlockSize * logicalBlockSize;
            if (size <= 0)
            {
                throw new IOException($"{fullPath} is smaller than one {logicalBlockSize}-byte block and no size was given");
            }

            if (fileSize < size)
            {
                if (readOnly)
                {
                    throw new IOException($"read-only file namespace {fullPath} is {fileSize} bytes, smaller than the configured {size}");
                }

                // SetLength only moves the end of file: no data blocks are written, so the file stays sparse.
                RandomAccess.SetLength(file.Handle, size);
                if (created)
                {
                    NamespaceLog.FileCreated(logger, fullPath, size);
                }
                else
                {
                    NamespaceLog.FileExtended(logger, fullPath, fileSize, size);
                }
            }
            else if (fileSize > size)
            {
                NamespaceLog.FileLargerThanNamespace(logger, fullPath, fileSize, size);
            }

            return new FileBlockDevice(fullPath, file, size, logicalBlockSize, logger, engine);
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
        return RunBlocking(deallocate ? s_punchHoleOrZero : s_zeroRange, offset, length);
    }

    public override ValueTask DeallocateAsync(long offset, long length, CancellationToken cancellationToken = default)
    {
        CheckWritableRange(offset, length);
        return RunBlocking(s_punchHoleOrZero, offset, length);
    }

    private void ZeroRange(long offset, long length)
    {
        if (_zeroRangeUnsupported || !TryZeroRange(offset, length))
        {
            Storage.WriteZeroes(offset, length);
        }
    }

    private void PunchHoleOrZero(long offset, long length)
    {
        if (_punchUnsupported || !TryPunchHole(offset, length))
        {
            Storage.WriteZeroes(offset, length);
        }
    }

    /// <summary>Returns false (and remembers it) when the platform or file system cannot punch holes.</summary>
    private partial bool TryPunchHole(long offset, long length);

    /// <summary>Returns false (and remembers it) when the platform or file system cannot zero a range in place.</summary>
    private partial bool TryZeroRange(long offset, long length);
}
