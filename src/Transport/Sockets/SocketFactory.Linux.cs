using System.Net.Sockets;
using System.Runtime.InteropServices;
using NvmeMptls.Transport.Multipath;

namespace NvmeMptls.Transport.Sockets;

public static partial class SocketFactory
{
    /// <summary>
    /// socket(AF, SOCK_STREAM, IPPROTO_MPTCP) through libc: .NET's own constructor rejects protocol numbers it
    /// does not know on Unix (dotnet/runtime#67303) before asking the kernel. Null, with the reason, when the
    /// kernel refuses.
    /// </summary>
    private static Socket? TryCreateMptcpLinux(AddressFamily family, out string? refusal)
    {
        int domain = family switch
        {
            AddressFamily.InterNetwork => LinuxNative.AF_INET,
            AddressFamily.InterNetworkV6 => LinuxNative.AF_INET6,
            _ => throw new ArgumentException($"MPTCP needs an IPv4 or IPv6 address, not {family}", nameof(family)),
        };
        int fd = LinuxNative.Socket(domain, LinuxNative.SOCK_STREAM | LinuxNative.SOCK_CLOEXEC, MptcpConstants.IPPROTO_MPTCP);
        if (fd >= 0)
        {
            refusal = null;
            var handle = new SafeSocketHandle(fd, ownsHandle: true);
            try
            {
                return new Socket(handle);
            }
            catch
            {
                handle.Dispose();
                throw;
            }
        }
        int errno = Marshal.GetLastPInvokeError();
        refusal = errno switch
        {
            LinuxNative.ENOPROTOOPT => $"the kernel refused an IPPROTO_MPTCP socket: {LinuxNative.ErrorText(errno)}, MPTCP is disabled (sysctl net.mptcp.enabled=0)",
            LinuxNative.EPROTONOSUPPORT or LinuxNative.EINVAL or LinuxNative.EAFNOSUPPORT
                => $"the kernel refused an IPPROTO_MPTCP socket: {LinuxNative.ErrorText(errno)}, this kernel has no MPTCP (CONFIG_MPTCP{(domain == LinuxNative.AF_INET6 ? "_IPV6" : "")})",
            _ => throw new IOException($"socket(IPPROTO_MPTCP) failed: {LinuxNative.ErrorText(errno)}"),
        };
        return null;
    }
}
