namespace NvmeMptls.Target.Namespaces;

/// <summary>How a file or block-device namespace reaches its storage.</summary>
public enum IoEngine
{
    /// <summary>
    /// Linux io_uring with O_DIRECT where the file system allows it: no thread waits per I/O. Falls back to
    /// <see cref="Positional"/> (logged, and shown in <see cref="PositionalBlockDevice.Engine"/>) when the kernel refuses io_uring.
    /// </summary>
    IoUring,

    /// <summary>pread/pwrite through the page cache, each command on a thread-pool thread.</summary>
    Positional,
}
