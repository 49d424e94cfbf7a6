using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using NvmeMptls.Transport.Multipath;

namespace NvmeMptls.Transport.Sockets;

/// <summary>Creates stream sockets according to a <see cref="MultipathPolicy"/>, in an optional network namespace.</summary>
public static class SocketFactory
{
    /// <summary>A new socket, and why it is plain TCP when the policy allowed MPTCP (null otherwise).</summary>
    public readonly record struct CreatedSocket(Socket Socket, string? FallbackReason)
    {
        public bool IsMptcp => Socket.ProtocolType == (ProtocolType)MptcpConstants.IPPROTO_MPTCP;
    }

    /// <summary>
    /// Preferred: MPTCP, else TCP with a logged reason. Required: MPTCP or <see cref="MultipathUnavailableException"/>.
    /// Disabled: TCP.
    /// </summary>
    public static CreatedSocket Create(AddressFamily family, MultipathPolicy policy, string? networkNamespace, ILogger logger)
    {
        if (policy == MultipathPolicy.Disabled)
            return new(NetNs.CreateSocket(networkNamespace, family, SocketType.Stream, ProtocolType.Tcp), null);

        string reason;
        if (!OperatingSystem.IsLinux())
        {
            reason = $"MPTCP sockets need Linux; this is {System.Runtime.InteropServices.RuntimeInformation.OSDescription}";
        }
        else
        {
            try
            {
                return new(NetNs.CreateSocket(networkNamespace, family, SocketType.Stream, (ProtocolType)MptcpConstants.IPPROTO_MPTCP), null);
            }
            catch (SocketException ex) when (IsMptcpRefusal(ex))
            {
                reason = $"the kernel refused an IPPROTO_MPTCP socket ({ex.SocketErrorCode}, errno {ex.NativeErrorCode})"
                    + (networkNamespace is null ? "" : $" in network namespace '{networkNamespace}'")
                    + ": MPTCP is disabled (sysctl net.mptcp.enabled=0) or not built into this kernel";
            }
        }

        if (policy == MultipathPolicy.Required)
            throw new MultipathUnavailableException($"multipath: required, but {reason}");
        SocketLog.MptcpSocketRefused(logger, reason);
        return new(NetNs.CreateSocket(networkNamespace, family, SocketType.Stream, ProtocolType.Tcp), reason);
    }

    // EPROTONOSUPPORT (no MPTCP in the kernel), ENOPROTOOPT (net.mptcp.enabled=0), EINVAL (old kernels).
    private static bool IsMptcpRefusal(SocketException ex)
        => ex.SocketErrorCode is SocketError.ProtocolNotSupported or SocketError.ProtocolOption or SocketError.InvalidArgument
            or SocketError.ProtocolType or SocketError.AddressFamilyNotSupported
            || ex.NativeErrorCode is LinuxNative.EPROTONOSUPPORT or LinuxNative.ENOPROTOOPT or LinuxNative.EINVAL;
}
