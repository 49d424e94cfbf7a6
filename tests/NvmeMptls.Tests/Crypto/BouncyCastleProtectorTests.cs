using NvmeMptls.Crypto.Aead;
using NvmeMptls.Tests.Tls;
using NvmeMptls.Transport.Tls;

namespace NvmeMptls.Tests.Crypto;

public sealed class BouncyCastleProtectorTests
{
    [TestCase(16, 0)]
    [TestCase(16, 1)]
    [TestCase(32, 17)]
    [TestCase(32, 16385)]
    public void Seal_SameInputs_ByteIdenticalToAesGcmAndCrossOpens(int keyLength, int length)
    {
        byte[] key = HandshakeTests.RandomBytes(keyLength), nonce = HandshakeTests.RandomBytes(12), aad = HandshakeTests.RandomBytes(5);
        byte[] plain = HandshakeTests.RandomBytes(length);
        using var bc = new BouncyCastleGcmProtector(key);
        using var net = new AesGcmRecordProtector(key);
        byte[] a = (byte[])plain.Clone(), b = (byte[])plain.Clone(), tagA = new byte[16], tagB = new byte[16];
        bc.Seal(nonce, a, tagA, aad);
        net.Seal(nonce, b, tagB, aad);
        Assert.Multiple(() =>
        {
            Assert.That(a, Is.EqualTo(b));
            Assert.That(tagA, Is.EqualTo(tagB));
        });
        Assert.That(bc.TryOpen(nonce, b, tagB, aad), Is.True);
        Assert.That(b, Is.EqualTo(plain));
    }

    [Test]
    public void TryOpen_FlippedTag_ReturnsFalse()
    {
        byte[] key = HandshakeTests.RandomBytes(16), nonce = new byte[12], data = HandshakeTests.RandomBytes(100), tag = new byte[16];
        using var bc = new BouncyCastleGcmProtector(key);
        bc.Seal(nonce, data, tag, [1, 2, 3, 4, 5]);
        tag[0] ^= 1;
        Assert.That(bc.TryOpen(nonce, data, tag, [1, 2, 3, 4, 5]), Is.False);
    }

    [Test]
    public async Task RecordLayer_BouncyCastleProvider_OpensPeerRecordsAndReportsProvider()
    {
        var (conn, peer) = RecordPair.Create(factory: BouncyCastleGcmProtectorFactory.Instance);
        await using var _ = conn;
        await peer.SendAsync(peer.Seal(TlsContentType.ApplicationData, "via bc"u8));
        Assert.That(await HandshakeTests.ReadExactlyAsync(conn.Input, 6), Is.EqualTo("via bc"u8.ToArray()));
        await conn.Output.WriteAsync("back"u8.ToArray());
        Assert.That((await peer.ReceiveAsync())!.Value.Content, Is.EqualTo("back"u8.ToArray()));
        Assert.That(conn.Tls.OpenProvider, Is.EqualTo("bouncycastle"));
    }

    [TestCase(0)]
    [TestCase(1)]
    [TestCase(3)]
    public void Dispose_AfterSealsOnly_DoesNotThrow(int seals)
    {
        // A send-side protector never opens: disposing it after seals alone must not throw (found by the micro-benchmarks).
        byte[] key = HandshakeTests.RandomBytes(16), nonce = new byte[12], data = HandshakeTests.RandomBytes(64), tag = new byte[16];
        var bc = new BouncyCastleGcmProtector(key);
        for (int i = 0; i < seals; i++)
        {
            nonce[11] = (byte)i;
            bc.Seal(nonce, data, tag, [23, 3, 3, 0, 80]);
        }
        Assert.DoesNotThrow(bc.Dispose);
    }
}
