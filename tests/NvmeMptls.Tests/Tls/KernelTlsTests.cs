using System.Net;
using System.Net.Sockets;
using NvmeMptls.Transport.Tls;

namespace NvmeMptls.Tests.Tls;

public sealed class KernelTlsTests
{
    [Test]
    public void CryptoInfo_Aes128_MatchesLinuxStructLayout()
    {
        using var info = TlsCryptoInfo.FromTrafficSecret(0x1301, RecordPair.ClientSecret);
        info.Advance();
        byte[] image = new byte[KernelTlsCryptoInfo.Size256];
        int size = KernelTlsCryptoInfo.Write(info, image);
        Assert.Multiple(() =>
        {
            Assert.That(size, Is.EqualTo(40));
            Assert.That(image[..4], Is.EqualTo(new byte[] { 0x04, 0x03, 51, 0 }));
            Assert.That(image[4..12], Is.EqualTo(info.Iv[4..].ToArray()));
            Assert.That(image[12..28], Is.EqualTo(info.Key.ToArray()));
            Assert.That(image[28..32], Is.EqualTo(info.Iv[..4].ToArray()));
            Assert.That(image[32..40], Is.EqualTo(new byte[] { 0, 0, 0, 0, 0, 0, 0, 1 }));
        });
    }

    [Test]
    public void CryptoInfo_Aes256_Is56BytesWithCipher52()
    {
        byte[] secret = new byte[48];
        using var info = TlsCryptoInfo.FromTrafficSecret(0x1302, secret);
        byte[] image = new byte[KernelTlsCryptoInfo.Size256];
        Assert.That(KernelTlsCryptoInfo.Write(info, image), Is.EqualTo(56));
        Assert.That(image[2], Is.EqualTo((byte)52));
        Assert.That(image[44..48], Is.EqualTo(info.Iv[..4].ToArray()));
    }

    [Test]
    public void TryEnable_NoSocket_FailsWithReason()
    {
        using var info = TlsCryptoInfo.FromTrafficSecret(0x1301, RecordPair.ClientSecret);
        Assert.That(KernelTls.TryEnable(null, info, info, out string reason), Is.False);
        Assert.That(reason, Does.Contain("no kernel socket"));
    }

    [Test]
    public void TryEnable_LoopbackTcpWithoutTlsUlp_FailsWithReason()
    {
        const string ulps = "/proc/sys/net/ipv4/tcp_available_ulp";
        if (File.Exists(ulps) && File.ReadAllText(ulps).Contains("tls", StringComparison.Ordinal))
        {
            Assert.Ignore("this kernel offers the tls ULP; the fallback path cannot be exercised here");
        }
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen(1);
        using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        client.Connect(listener.LocalEndPoint!);
        using var accepted = listener.Accept();
        using var info = TlsCryptoInfo.FromTrafficSecret(0x1301, RecordPair.ClientSecret);
        Assert.That(KernelTls.TryEnable(client, info, info, out string reason), Is.False);
        Assert.That(reason, Does.Contain("TCP_ULP").And.Contain("no tls module"));
    }
}
