using NvmeMptls.Crypto.Aead;
using NvmeMptls.Transport.Tls;

namespace NvmeMptls.Tests.Crypto;

public sealed class OpenSslProtectorTests
{
    // The GCM specification's test cases 4 (AES-128) and 16 (AES-256): 96-bit IV, 60-byte plaintext, 20-byte AAD
    // (McGrew and Viega, "The Galois/Counter Mode of Operation", appendix B).
    private const string SpecIv = "cafebabefacedbaddecaf888";
    private const string SpecAad = "feedfacedeadbeeffeedfacedeadbeefabaddad2";
    private const string SpecPlain = "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72" +
                                     "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39";

    [OneTimeSetUp]
    public void RequireOpenSsl() =>
        Assume.That(OpenSslGcmProtectorFactory.IsAvailable, Is.True, () => OpenSslGcmProtectorFactory.UnavailableReason!);

    [TestCase("feffe9928665731c6d6a8f9467308308",
        "42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091",
        "5bc94fbc3221a5db94fae95ae7121a47")]
    [TestCase("feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308",
        "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662",
        "76fc6ece0f4e1768cddf8853bb2d551b")]
    public void Seal_GcmSpecVector_ByteExactAndOpens(string key, string cipher, string tag)
    {
        byte[] k = Convert.FromHexString(key), iv = Convert.FromHexString(SpecIv), aad = Convert.FromHexString(SpecAad);
        byte[] data = Convert.FromHexString(SpecPlain), sealedTag = new byte[16];
        using var sealer = OpenSslGcmProtector.Create(k);
        using var opener = OpenSslGcmProtector.Create(k);
        sealer.Seal(iv, data, sealedTag, aad);
        Assert.Multiple(() =>
        {
            Assert.That(Convert.ToHexStringLower(data), Is.EqualTo(cipher));
            Assert.That(Convert.ToHexStringLower(sealedTag), Is.EqualTo(tag));
        });
        Assert.That(opener.TryOpen(iv, data, sealedTag, aad), Is.True);
        Assert.That(Convert.ToHexStringLower(data), Is.EqualTo(SpecPlain));
    }

    [TestCase("", "58e2fccefa7e3061367f1d57a4e7455a")]
    [TestCase("00000000000000000000000000000000", "ab6e47d42cec13bdf53a67b21257bddf")]
    public void Seal_GcmSpecCases1And2_EmptyAadAndEmptyData(string plainHex, string tagHex)
    {
        // Test cases 1 and 2: zero key and IV, no AAD; case 1 has no plaintext, case 2 one zero block.
        byte[] data = Convert.FromHexString(plainHex), tag = new byte[16];
        using var protector = OpenSslGcmProtector.Create(new byte[16]);
        protector.Seal(new byte[12], data, tag, []);
        Assert.That(Convert.ToHexStringLower(tag), Is.EqualTo(tagHex));
        Assert.That(Convert.ToHexStringLower(data), Is.EqualTo(data.Length == 0 ? "" : "0388dace60b6a392f328c2b971b2fe78"));
        Assert.That(protector.TryOpen(new byte[12], data, tag, []), Is.True);
        Assert.That(data, Is.All.EqualTo(0));
    }

    [TestCase(16, 0)]
    [TestCase(16, 1)]
    [TestCase(16, 4153)]
    [TestCase(32, 17)]
    [TestCase(32, 16385)]
    public void SealAndOpen_ManyRecordsOneContext_MatchAesGcmBothWays(int keyLength, int length)
    {
        byte[] key = HandshakeTests.RandomBytes(keyLength), aad = HandshakeTests.RandomBytes(5);
        using var sealer = OpenSslGcmProtector.Create(key);
        using var opener = OpenSslGcmProtector.Create(key);
        using var net = new AesGcmRecordProtector(key);
        for (int record = 0; record < 3; record++)
        {
            // A new nonce per record through the same contexts, as the record layer uses them.
            byte[] nonce = HandshakeTests.RandomBytes(12), plain = HandshakeTests.RandomBytes(length);
            byte[] ours = new byte[length], theirs = (byte[])plain.Clone(), ourTag = new byte[16], theirTag = new byte[16];
            sealer.SealTo(nonce, plain, ours, ourTag, aad); // out of place: plain stays as it was
            net.Seal(nonce, theirs, theirTag, aad);
            Assert.Multiple(() =>
            {
                Assert.That(ours, Is.EqualTo(theirs));
                Assert.That(ourTag, Is.EqualTo(theirTag));
            });
            byte[] opened = new byte[length];
            Assert.That(opener.TryOpenTo(nonce, theirs, theirTag, aad, opened), Is.True);
            Assert.That(opened, Is.EqualTo(plain));
            Assert.That(net.TryOpen(nonce, ours, ourTag, aad), Is.True);
            Assert.That(ours, Is.EqualTo(plain));
        }
    }

    [TestCase("tag")]
    [TestCase("data")]
    [TestCase("aad")]
    [TestCase("nonce")]
    public void TryOpen_AnyByteChanged_FalseWithNothingUsableAndTheNextRecordOpens(string changed)
    {
        byte[] key = HandshakeTests.RandomBytes(16), nonce = HandshakeTests.RandomBytes(12), aad = [23, 3, 3, 0, 117];
        byte[] plain = HandshakeTests.RandomBytes(100), data = (byte[])plain.Clone(), tag = new byte[16];
        using var sealer = OpenSslGcmProtector.Create(key);
        using var opener = OpenSslGcmProtector.Create(key);
        sealer.Seal(nonce, data, tag, aad);
        byte[] good = (byte[])data.Clone(), goodTag = (byte[])tag.Clone(), goodNonce = (byte[])nonce.Clone();
        (changed switch { "tag" => tag, "data" => data, "aad" => aad, _ => nonce })[3] ^= 0x40;

        Assert.That(opener.TryOpen(nonce, data, tag, aad), Is.False);
        Assert.That(data, Is.All.EqualTo(0), "unauthenticated plaintext must not be left for the caller");
        // The failed record leaves the context usable: the same opener takes the untouched record.
        byte[] goodAad = [23, 3, 3, 0, 117];
        Assert.That(opener.TryOpen(goodNonce, good, goodTag, goodAad), Is.True);
        Assert.That(good, Is.EqualTo(plain));
    }

    [Test]
    public void OneDirection_SealerAndOpenerInteroperateAndRefuseTheOtherDirection()
    {
        // The record layer's keys each protect one direction, so its protectors come from CreateSealer / CreateOpener.
        byte[] key = HandshakeTests.RandomBytes(16), aad = [23, 3, 3, 0, 117];
        IRecordProtectorFactory factory = OpenSslGcmProtectorFactory.Instance; // through the interface, as the record layer calls it
        using var sealer = factory.CreateSealer(key);
        using var opener = factory.CreateOpener(key);
        using var net = new AesGcmRecordProtector(key);
        for (int record = 0; record < 3; record++)
        {
            byte[] nonce = HandshakeTests.RandomBytes(12), plain = HandshakeTests.RandomBytes(4096);
            byte[] data = new byte[plain.Length], theirs = (byte[])plain.Clone(), tag = new byte[16], theirTag = new byte[16];
            plain.AsSpan(0, 100).CopyTo(data);
            sealer.SealFrom(nonce, data, 100, plain.AsSpan(100), tag, aad);
            net.Seal(nonce, theirs, theirTag, aad);
            Assert.That(data, Is.EqualTo(theirs));
            Assert.That(tag, Is.EqualTo(theirTag));
            Assert.That(opener.TryOpen(nonce, data, tag, aad), Is.True);
            Assert.That(data, Is.EqualTo(plain));
        }

        Assert.Multiple(() =>
        {
            Assert.That(() => sealer.TryOpen(new byte[12], new byte[8], new byte[16], aad), Throws.InvalidOperationException.With.Message.Contains("seal records only"));
            Assert.That(() => opener.Seal(new byte[12], new byte[8], new byte[16], aad), Throws.InvalidOperationException.With.Message.Contains("open records only"));
            Assert.That(() => opener.SealFrom(new byte[12], new byte[8], 0, new byte[8], new byte[16], aad), Throws.InvalidOperationException.With.Message.Contains("open records only"));
            Assert.That(() => OpenSslGcmProtector.Create(key, seals: false, opens: false), Throws.ArgumentException);
        });
    }

    [Test]
    public void Seal_AfterDispose_ObjectDisposedNotACrash()
    {
        var sealer = OpenSslGcmProtector.Create(new byte[16]);
        sealer.Dispose();
        Assert.Throws<ObjectDisposedException>(() => sealer.Seal(new byte[12], new byte[8], new byte[16], new byte[5]));
        Assert.DoesNotThrow(sealer.Dispose);
    }

    [Test]
    public void WrongSizesOrOverlap_RefusedWithTheReason()
    {
        using var protector = OpenSslGcmProtector.Create(new byte[32]);
        byte[] buffer = new byte[64];
        Assert.Multiple(() =>
        {
            Assert.That(() => protector.Seal(new byte[8], new byte[8], new byte[16], new byte[5]), Throws.ArgumentException.With.Message.Contains("nonce"));
            Assert.That(() => protector.Seal(new byte[12], new byte[8], new byte[12], new byte[5]), Throws.ArgumentException.With.Message.Contains("tag"));
            Assert.That(() => protector.SealTo(new byte[12], new byte[8], new byte[7], new byte[16], new byte[5]), Throws.ArgumentException.With.Message.Contains("shorter"));
            Assert.That(() => protector.SealTo(new byte[12], buffer.AsSpan(0, 32), buffer.AsSpan(1, 32), new byte[16], new byte[5]),
                Throws.ArgumentException.With.Message.Contains("overlaps"));
            Assert.That(() => protector.TryOpenTo(new byte[12], buffer.AsSpan(8, 32), new byte[16], new byte[5], buffer.AsSpan(0, 32)),
                Throws.ArgumentException.With.Message.Contains("overlaps"));
            Assert.That(() => OpenSslGcmProtector.Create(new byte[24]), Throws.ArgumentException.With.Message.Contains("16 or 32"));
        });
    }
}
