using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace NvmeMptls.Target.Namespaces;

/// <summary>
/// The few Linux syscalls .NET does not wrap: fallocate for hole punching and the block-layer ioctls from
/// &lt;linux/fs.h&gt;. Every entry point returns false (with the errno) instead of throwing so callers can fall back.
/// </summary>
internal static class LinuxBlockIo
{
    public const int EOPNOTSUPP = 95;
    public const int ENOTTY = 25;
    public const int EINVAL = 22;

    private const string LibC = "libc";

    private const int FALLOC_FL_KEEP_SIZE = 0x01;
    private const int FALLOC_FL_PUNCH_HOLE = 0x02;
    private const int FALLOC_FL_ZERO_RANGE = 0x10;

    // _IO(0x12, n) and _IOR(0x12, 114, size_t) from <linux/fs.h>; the encoding is the same on x86-64 and arm64.
    private const uint BLKSSZGET = 0x1268;
    private const uint BLKDISCARD = 0x1277;
    private const uint BLKZEROOUT = 0x127F;
    private const uint BLKGETSIZE64 = 0x80081272;

    /// <summary>Unmaps the range and keeps the file size; the range reads as zeroes afterwards.</summary>
    public static bool TryPunchHole(SafeFileHandle handle, long offset, long length, out int errno) =>
        Check(fallocate(handle, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, offset, length), out errno);

    /// <summary>Zeroes the range but keeps it allocated, so a later write cannot fail for lack of space.</summary>
    public static bool TryZeroRange(SafeFileHandle handle, long offset, long length, out int errno) =>
        Check(fallocate(handle, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, offset, length), out errno);

    public static bool TryGetSize(SafeFileHandle handle, out long sizeBytes, out int errno)
    {
        bool ok = Check(ioctl_u64(handle, BLKGETSIZE64, out ulong size), out errno);
        sizeBytes = ok ? (long)size : 0;
        return ok;
    }

    public static bool TryGetLogicalBlockSize(SafeFileHandle handle, out int blockSize, out int errno)
    {
        bool ok = Check(ioctl_int(handle, BLKSSZGET, out int size), out errno);
        blockSize = ok ? size : 0;
        return ok;
    }

    public static bool TryDiscard(SafeFileHandle handle, long offset, long length, out int errno)
    {
        var range = new ByteRange((ulong)offset, (ulong)length);
        return Check(ioctl_range(handle, BLKDISCARD, ref range), out errno);
    }

    public static bool TryZeroOut(SafeFileHandle handle, long offset, long length, out int errno)
    {
        var range = new ByteRange((ulong)offset, (ulong)length);
        return Check(ioctl_range(handle, BLKZEROOUT, ref range), out errno);
    }

    private static bool Check(int result, out int errno)
    {
        errno = result == 0 ? 0 : Marshal.GetLastPInvokeError();
        return result == 0;
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct ByteRange(ulong start, ulong length)
    {
        public ulong Start = start;
        public ulong Length = length;
    }

#pragma warning disable SYSLIB1054 // LibraryImport needs unsafe code in the project; these signatures are blittable anyway
    [DllImport(LibC, SetLastError = true)]
    private static extern int fallocate(SafeFileHandle fd, int mode, long offset, long len);

    [DllImport(LibC, EntryPoint = "ioctl", SetLastError = true)]
    private static extern int ioctl_u64(SafeFileHandle fd, nuint request, out ulong value);

    [DllImport(LibC, EntryPoint = "ioctl", SetLastError = true)]
    private static extern int ioctl_int(SafeFileHandle fd, nuint request, out int value);

    [DllImport(LibC, EntryPoint = "ioctl", SetLastError = true)]
    private static extern int ioctl_range(SafeFileHandle fd, nuint request, ref ByteRange range);
#pragma warning restore SYSLIB1054
}
