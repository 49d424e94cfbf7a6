using NvmeMptls.Crypto.Handshake;
using Org.BouncyCastle.Tls;

namespace NvmeMptls.Tests.Crypto;

/// <summary>Byte-exact parsing of the pre_shared_key extension (RFC 8446 §4.2.11) and of the truncated ClientHello.</summary>
public sealed class ClientHelloPsksTests
{
    [Test]
    public void Parse_TwoIdentitiesAndBinders_TruncatedHelloEndsBeforeTheBindersList()
    {
        byte[] body =
        [
            0x00, 0x10,                                     // identities<7..2^16-1>: 16 bytes
            0x00, 0x03, (byte)'a', (byte)'b', (byte)'c', 0, 0, 0, 1,   // "abc", ticket age 1
            0x00, 0x01, (byte)'z', 0, 0, 0, 0,              // "z", ticket age 0 (7 bytes, 16 with the first 9)
            0x00, 0x42,                                     // binders<33..2^16-1>: 66 bytes
            0x20, .. Enumerable.Repeat((byte)0xAA, 32),
            0x20, .. Enumerable.Repeat((byte)0xBB, 32),
        ];
        Assert.That(body, Has.Length.EqualTo(2 + 16 + 2 + 66), "the test's own lengths");
        byte[] message = [1, 0, 0, 0, .. new byte[10], .. body];

        var parsed = ClientHelloPsks.Parse(body, message);

        Assert.Multiple(() =>
        {
            Assert.That(parsed.Identities.Select(i => System.Text.Encoding.ASCII.GetString(i)), Is.EqualTo(new[] { "abc", "z" }));
            Assert.That(parsed.Binders[0], Is.EqualTo(Enumerable.Repeat((byte)0xAA, 32)));
            Assert.That(parsed.Binders[1], Is.EqualTo(Enumerable.Repeat((byte)0xBB, 32)));
            // RFC 8446 §4.2.11.2: everything up to, not including, the binders list (its 2-byte length and the entries).
            Assert.That(parsed.TruncatedHello, Is.EqualTo(message[..^68]));
        });
    }

    [TestCase(new byte[] { 0x00, 0x07, 0x00, 0x01, 0x61, 0, 0, 0, 0, 0x00, 0x20, 0x1F }, (byte)AlertDescription.decode_error, TestName = "Binder shorter than 32 bytes")]
    [TestCase(new byte[] { 0x00, 0x09, 0x00, 0x01, 0x61, 0, 0, 0, 0 }, (byte)AlertDescription.decode_error, TestName = "Identities run past the extension")]
    [TestCase(new byte[] { 0x00, 0x06, 0x00, 0x00, 0, 0, 0, 0, 0x00, 0x00 }, (byte)AlertDescription.decode_error, TestName = "Empty identity")]
    [TestCase(new byte[] { 0x00, 0x07, 0x00, 0x01, 0x61, 0, 0, 0, 0, 0x00, 0x00 }, (byte)AlertDescription.illegal_parameter, TestName = "An identity without a binder")]
    public void Parse_Malformed_ThrowsTheAlert(byte[] body, byte alert)
    {
        var ex = Assert.Throws<TlsFatalAlert>(() => ClientHelloPsks.Parse(body, [1, 0, 0, 0, .. body]));
        Assert.That(ex!.AlertDescription, Is.EqualTo(alert));
    }
}
