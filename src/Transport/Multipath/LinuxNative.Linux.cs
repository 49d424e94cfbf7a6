using System.Runtime.InteropServices;

namespace NvmeMptls.Transport.Multipath;

/// <summary>
/// The few libc calls .NET does not wrap: getsockopt with an in/out buffer (MPTCP_TCPINFO reads the
/// header we pass in), setns(2) for network namespaces, and recvmsg(2) into two spans for receive placement.
/// Only called after an OperatingSystem.IsLinux() check.
/// </summary>
internal static unsafe partial class LinuxNative
{
    public const int CLONE_NEWNET = 0x40000000;
    public const int O_RDONLY = 0;
    public const int O_CLOEXEC = 0x80000;

    public const int EINVAL = 22;
    public const int ENOPROTOOPT = 92;
    public const int EPROTONOSUPPORT = 93;
    public const int EOPNOTSUPP = 95;

    [LibraryImport("libc", EntryPoint = "getsockopt", SetLastError = true)]
    public static partial int GetSockOpt(SafeHandle socket, int level, int optionName, void* optionValue, ref uint optionLength);

    public const int SOCK_STREAM = 1;
    public const int SOCK_CLOEXEC = 0x80000;
    public const int AF_INET = 2;
    public const int AF_INET6 = 10;
    public const int EAFNOSUPPORT = 97;

    [LibraryImport("libc", EntryPoint = "socket", SetLastError = true)]
    public static partial int Socket(int domain, int type, int protocol);

    [LibraryImport("libc", EntryPoint = "setns", SetLastError = true)]
    public static partial int SetNs(int fd, int nsType);

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int Open(string path, int flags);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    public static partial int Close(int fd);

    public const int EINTR = 4;
    public const int EAGAIN = 11;
    public const int MSG_DONTWAIT = 0x40;

    /// <summary>struct iovec (include/uapi/linux/uio.h).</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct IoVec
    {
        public void* Base;
        public nuint Length;
    }

    /// <summary>struct msghdr as glibc declares it on 64-bit Linux: 56 bytes, iovlen and controllen size_t.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct MsgHdr
    {
        public void* Name;
        public uint NameLength;
        public IoVec* Iov;
        public nuint IovLength;
        public void* Control;
        public nuint ControlLength;
        public int Flags;
    }

    /// <summary>recvmsg(2): a scatter receive, which .NET offers only for arrays (SocketAsyncEventArgs.BufferList).</summary>
    [LibraryImport("libc", EntryPoint = "recvmsg", SetLastError = true)]
    public static partial nint RecvMsg(SafeHandle socket, MsgHdr* message, int flags);

    /// <summary>The SocketError .NET gives an errno from a receive, so a failed recvmsg reads like a failed Receive.</summary>
    public static System.Net.Sockets.SocketError ToSocketError(int errno) => errno switch
    {
        9 => System.Net.Sockets.SocketError.OperationAborted, // EBADF: closed under us
        32 => System.Net.Sockets.SocketError.Shutdown, // EPIPE
        101 => System.Net.Sockets.SocketError.NetworkUnreachable,
        103 => System.Net.Sockets.SocketError.ConnectionAborted,
        104 => System.Net.Sockets.SocketError.ConnectionReset,
        107 => System.Net.Sockets.SocketError.NotConnected,
        110 => System.Net.Sockets.SocketError.TimedOut,
        113 => System.Net.Sockets.SocketError.HostUnreachable,
        _ => System.Net.Sockets.SocketError.SocketError,
    };

    [LibraryImport("libc", EntryPoint = "strerror")]
    private static partial nint StrError(int errno);

    public static string ErrorText(int errno) => $"{Marshal.PtrToStringUTF8(StrError(errno)) ?? "error"} (errno {errno})";
}
