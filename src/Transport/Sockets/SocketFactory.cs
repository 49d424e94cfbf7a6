using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using NvmeMptls.Transport.Multipath;

namespace NvmeMptls.Transport.Sockets;

/// <summary>Creates stream sockets according to a <see cref="MultipathPolicy"/>, in an optional network namespace.</summary>
public static partial class SocketFactory
{
    /// <summary>A new socket; <see cref="FallbackReason"/> says why it is plain TCP when the policy allowed MPTCP.</summary>
    public readonly record struct CreatedSocket(Socket Socket, bool IsMptcp, string? FallbackReason);

    /// <summary>
    /// Preferred: MPTCP, else TCP with a logged reason. Required: MPTCP or <see cref="MultipathUnavailableException"/>.
    /// Disabled: TCP.
    /// </summary>
    public static CreatedSocket Create(AddressFamily family, MultipathPolicy policy, string? networkNamespace, ILogger logger)
    {
        if (policy == MultipathPolicy.Disabled)
            return new(NetNs.CreateSocket(networkNamespace, family, SocketType.Stream, ProtocolType.Tcp), false, null);

        string reason;
        if (!OperatingSystem.IsLinux())
        {
            reason = $"MPTCP sockets need Linux; this is {System.Runtime.InteropServices.RuntimeInformation.OSDescription}";
        }
        else
        {
            var mptcp = NetNs.Run(networkNamespace, () => TryCreateMptcpLinux(family, out string? refusal) is { } s
                ? (Socket: s, Refusal: (string?)null)
                : (Socket: (Socket?)null, Refusal: refusal));
            if (mptcp.Socket is not null)
                return new(mptcp.Socket, true, null);
            reason = mptcp.Refusal + (networkNamespace is null ? "" : $" in network namespace '{networkNamespace}'");
        }

        if (policy == MultipathPolicy.Required)
            throw new MultipathUnavailableException($"multipath: required, but {reason}");
        SocketLog.MptcpSocketRefused(logger, reason);
        return new(NetNs.CreateSocket(networkNamespace, family, SocketType.Stream, ProtocolType.Tcp), false, reason);
    }

    /// <summary>
    /// Whether the kernel runs <paramref name="socket"/> as MPTCP: SO_PROTOCOL is IPPROTO_MPTCP. Sockets that
    /// .NET accepted from an MPTCP listener inherit its ProtocolType even when the kernel handed over plain TCP.
    /// </summary>
    public static bool IsMptcpSocket(Socket socket)
    {
        if (!OperatingSystem.IsLinux())
            return false;
        Span<byte> value = stackalloc byte[4];
        const int SolSocket = 1, SoProtocol = 38;
        return socket.GetRawSocketOption(SolSocket, SoProtocol, value) == 4
            && BitConverter.ToInt32(value) == MptcpConstants.IPPROTO_MPTCP;
    }
}
