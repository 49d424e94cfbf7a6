using System.Net.Sockets;
using System.Security.Cryptography;
using NvmeMptls.Transport.Connections;

namespace NvmeMptls.Transport.Tls;

/// <summary>
/// Linux kTLS: <c>setsockopt(SOL_TCP, TCP_ULP, "tls")</c>, then <c>setsockopt(SOL_TLS, TLS_TX|TLS_RX, crypto_info)</c>
/// (Documentation/networking/tls.rst). .NET's <see cref="Socket.SetRawSocketOption"/> is a direct setsockopt, so no
/// hand-written P/Invoke is needed. Only used when the kernel accepts the ULP; otherwise the caller falls back to
/// our user-space record layer.
/// </summary>
public static class KernelTls
{
    public const int SolTcp = 6;
    public const int TcpUlp = 31;
    public const int SolTls = 282;
    public const int TlsTx = 1;
    public const int TlsRx = 2;

    /// <summary>Installs both directions on <paramref name="socket"/>; false with a reason when the kernel cannot.</summary>
    /// <remarks>
    /// The carrier must have no buffered, unread ciphertext (the kernel only sees bytes still in the socket) and no
    /// unflushed output. Once installed, the socket carries plaintext application data.
    /// </remarks>
    public static bool TryEnable(Socket? socket, TlsCryptoInfo tx, TlsCryptoInfo rx, out string reason)
    {
        if (!OperatingSystem.IsLinux())
        {
            reason = "kTLS exists only on Linux";
            return false;
        }
        if (socket is null)
        {
            reason = "the carrier has no kernel socket";
            return false;
        }
        try
        {
            socket.SetRawSocketOption(SolTcp, TcpUlp, "tls"u8);
        }
        catch (SocketException ex)
        {
            reason = $"kernel refused TCP_ULP \"tls\" ({ex.SocketErrorCode}): {WhyUlpRefused(socket)}";
            return false;
        }
        Span<byte> image = stackalloc byte[KernelTlsCryptoInfo.Size256];
        try
        {
            int size = KernelTlsCryptoInfo.Write(tx, image);
            socket.SetRawSocketOption(SolTls, TlsTx, image[..size]);
            size = KernelTlsCryptoInfo.Write(rx, image);
            socket.SetRawSocketOption(SolTls, TlsRx, image[..size]);
        }
        catch (SocketException ex)
        {
            reason = $"kernel refused TLS_TX/TLS_RX ({ex.SocketErrorCode})";
            return false;
        }
        finally
        {
            CryptographicOperations.ZeroMemory(image);
        }
        reason = "";
        return true;
    }

    /// <summary>
    /// The likely reason the kernel refused the ULP: no tls module, or an MPTCP socket. Linux attaches ULPs to TCP
    /// sockets only; kTLS on the MPTCP connection is the patch series this project stands in for (docs/offload.md).
    /// </summary>
    private static string WhyUlpRefused(Socket socket)
    {
        bool mptcp;
        try
        {
            mptcp = Sockets.SocketFactory.IsMptcpSocket(socket);
        }
        catch (SocketException)
        {
            mptcp = false;
        }

        string? ulps = null;
        try
        {
            ulps = File.ReadAllText(AvailableUlpsPath);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }

        bool tlsLoaded = ulps is not null && ulps.Split((char[])[' ', '\n'], StringSplitOptions.RemoveEmptyEntries).Contains("tls");
        return (mptcp, tlsLoaded) switch
        {
            (true, true) => "this kernel does not attach the tls ULP to MPTCP sockets",
            (true, false) => "the socket is MPTCP and the kernel has no tls module loaded",
            (false, false) => "the kernel has no tls module loaded (modprobe tls)",
            _ => "the kernel has the tls module but refused this socket",
        };
    }

    /// <summary>Upper-layer protocols the kernel offers, space-separated ("mptcp tls").</summary>
    public const string AvailableUlpsPath = "/proc/sys/net/ipv4/tcp_available_ulp";

    /// <summary>True when the carrier holds no bytes the kernel would not see (ciphertext already pulled into the pipe).</summary>
    public static bool CarrierIsDrained(StreamConnection inner)
    {
        if (!inner.Input.TryRead(out var result))
        {
            return true;
        }
        bool empty = result.Buffer.IsEmpty;
        inner.Input.AdvanceTo(result.Buffer.Start, result.Buffer.Start);
        return empty;
    }
}
