using System.Runtime.InteropServices;

namespace NvmeMptls.Target.Namespaces;

/// <summary>
/// The kernel's io_uring interface (&lt;linux/io_uring.h&gt;, kernel 5.6 or later for IORING_OP_READ/WRITE/FALLOCATE)
/// and the few libc calls around it: raw syscalls, mmap, open with O_DIRECT, statx for the direct-I/O alignment.
/// Every entry point returns -errno instead of throwing so callers can fall back.
/// </summary>
internal static unsafe class IoUringNative
{
    public const int EINTR = 4;
    public const int EAGAIN = 11;
    public const int EBUSY = 16;
    public const int EINVAL = 22;
    public const int ENOSYS = 38;
    public const int EPERM = 1;
    public const int EOPNOTSUPP = 95;

    public const byte IORING_OP_NOP = 0;
    public const byte IORING_OP_FSYNC = 3;
    public const byte IORING_OP_FALLOCATE = 17;
    public const byte IORING_OP_READ = 22;
    public const byte IORING_OP_WRITE = 23;

    public const uint IORING_ENTER_GETEVENTS = 1;
    public const uint IORING_FEAT_SINGLE_MMAP = 1;
    public const uint IORING_FEAT_NODROP = 2;

    /// <summary>RWF_DSYNC: this write alone is durable when it completes (per-I/O O_DSYNC); Linux 4.7+.</summary>
    public const int RWF_DSYNC = 0x2;

    public const int FALLOC_FL_KEEP_SIZE = 0x01;
    public const int FALLOC_FL_PUNCH_HOLE = 0x02;
    public const int FALLOC_FL_ZERO_RANGE = 0x10;

    private const long IORING_OFF_SQ_RING = 0;
    private const long IORING_OFF_CQ_RING = 0x8000000;
    private const long IORING_OFF_SQES = 0x10000000;

    // The io_uring syscalls have the same numbers on every architecture (the generic table, since 5.1).
    private const long SYS_io_uring_setup = 425;
    private const long SYS_io_uring_enter = 426;

    private const int PROT_READ = 1;
    private const int PROT_WRITE = 2;
    private const int MAP_SHARED = 1;
    private const int MAP_POPULATE = 0x8000;

    private const int O_RDONLY = 0;
    private const int O_RDWR = 2;
    private const int O_CLOEXEC = 0x80000;
    private const int AT_FDCWD = -100;
    private const uint STATX_DIOALIGN = 0x2000;

    private const string LibC = "libc";

    /// <summary>O_DIRECT differs by architecture: 040000 on x86, 0200000 on arm and arm64.</summary>
    public static int O_DIRECT => RuntimeInformation.ProcessArchitecture is Architecture.Arm64 or Architecture.Arm ? 0x10000 : 0x4000;

    public static int Setup(uint entries, IoUringParams* parameters) => (int)Check(syscall(SYS_io_uring_setup, (nint)entries, (nint)parameters, 0, 0, 0, 0));

    public static int Enter(int fd, uint toSubmit, uint minComplete, uint flags) =>
        (int)Check(syscall(SYS_io_uring_enter, fd, (nint)toSubmit, (nint)minComplete, (nint)flags, 0, 0));

    /// <summary>Maps one of the ring regions; null with <paramref name="errno"/> on failure.</summary>
    public static void* Map(int fd, nuint length, long offset, out int errno)
    {
        nint p = mmap(0, length, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, offset);
        if (p == -1)
        {
            errno = Marshal.GetLastPInvokeError();
            return null;
        }

        errno = 0;
        return (void*)p;
    }

    public static void* MapSqRing(int fd, nuint length, out int errno) => Map(fd, length, IORING_OFF_SQ_RING, out errno);

    public static void* MapCqRing(int fd, nuint length, out int errno) => Map(fd, length, IORING_OFF_CQ_RING, out errno);

    public static void* MapSqes(int fd, nuint length, out int errno) => Map(fd, length, IORING_OFF_SQES, out errno);

    public static void Unmap(void* address, nuint length)
    {
        if (address != null)
        {
            _ = munmap((nint)address, length);
        }
    }

    public static void Close(int fd) => _ = close(fd);

    /// <summary>open(2) with the given extra flags (O_DIRECT); a descriptor, or -errno.</summary>
    public static int Open(string path, bool readOnly, int extraFlags)
    {
        int fd = open(path, (readOnly ? O_RDONLY : O_RDWR) | O_CLOEXEC | extraFlags, 0);
        return fd >= 0 ? fd : -Marshal.GetLastPInvokeError();
    }

    /// <summary>
    /// Direct-I/O alignment of <paramref name="path"/> (statx STATX_DIOALIGN, Linux 6.1+): memory and file-offset
    /// alignment, both 0 when the kernel or the file system does not say (then direct I/O may still work).
    /// </summary>
    public static (int Memory, int Offset) DirectIoAlignment(string path)
    {
        byte* buffer = stackalloc byte[256];
        new Span<byte>(buffer, 256).Clear();
        if (statx(AT_FDCWD, path, 0, STATX_DIOALIGN, buffer) != 0)
        {
            return (0, 0);
        }

        uint mask = *(uint*)buffer;
        return (mask & STATX_DIOALIGN) == 0 ? (0, 0) : ((int)*(uint*)(buffer + 152), (int)*(uint*)(buffer + 156));
    }

    private static long Check(long result) => result >= 0 ? result : -Marshal.GetLastPInvokeError();

#pragma warning disable SYSLIB1054 // blittable signatures; DllImport keeps them next to the other libc imports of this folder
    [DllImport(LibC, SetLastError = true)]
    private static extern long syscall(long number, nint a1, nint a2, nint a3, nint a4, nint a5, nint a6);

    [DllImport(LibC, SetLastError = true)]
    private static extern nint mmap(nint address, nuint length, int protection, int flags, int fd, long offset);

    [DllImport(LibC, SetLastError = true)]
    private static extern int munmap(nint address, nuint length);

    [DllImport(LibC, SetLastError = true)]
    private static extern int close(int fd);

    [DllImport(LibC, SetLastError = true, CharSet = CharSet.Ansi, BestFitMapping = false, ThrowOnUnmappableChar = true)]
    private static extern int open([MarshalAs(UnmanagedType.LPUTF8Str)] string path, int flags, int mode);

    [DllImport(LibC, SetLastError = true, CharSet = CharSet.Ansi, BestFitMapping = false, ThrowOnUnmappableChar = true)]
    private static extern int statx(int dirfd, [MarshalAs(UnmanagedType.LPUTF8Str)] string path, int flags, uint mask, byte* buffer);
#pragma warning restore SYSLIB1054
}

/// <summary>struct io_uring_params (120 bytes).</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct IoUringParams
{
    public uint SqEntries;
    public uint CqEntries;
    public uint Flags;
    public uint SqThreadCpu;
    public uint SqThreadIdle;
    public uint Features;
    public uint WqFd;
    public uint Resv0;
    public uint Resv1;
    public uint Resv2;
    public IoSqRingOffsets SqOff;
    public IoCqRingOffsets CqOff;
}

/// <summary>struct io_sqring_offsets (40 bytes).</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct IoSqRingOffsets
{
    public uint Head;
    public uint Tail;
    public uint RingMask;
    public uint RingEntries;
    public uint Flags;
    public uint Dropped;
    public uint Array;
    public uint Resv1;
    public ulong UserAddr;
}

/// <summary>struct io_cqring_offsets (40 bytes).</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct IoCqRingOffsets
{
    public uint Head;
    public uint Tail;
    public uint RingMask;
    public uint RingEntries;
    public uint Overflow;
    public uint Cqes;
    public uint Flags;
    public uint Resv1;
    public ulong UserAddr;
}

/// <summary>struct io_uring_sqe (64 bytes), the fields this binding uses.</summary>
[StructLayout(LayoutKind.Explicit, Size = 64)]
internal struct IoUringSqe
{
    [FieldOffset(0)] public byte Opcode;
    [FieldOffset(1)] public byte Flags;
    [FieldOffset(2)] public ushort IoPrio;
    [FieldOffset(4)] public int Fd;
    [FieldOffset(8)] public ulong Offset;
    [FieldOffset(16)] public ulong Address;
    [FieldOffset(24)] public uint Length;
    [FieldOffset(28)] public uint OpFlags;
    [FieldOffset(32)] public ulong UserData;
    [FieldOffset(40)] public ulong Pad0;
    [FieldOffset(48)] public ulong Pad1;
    [FieldOffset(56)] public ulong Pad2;
}

/// <summary>struct io_uring_cqe (16 bytes).</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct IoUringCqe
{
    public ulong UserData;
    public int Result;
    public uint Flags;
}
