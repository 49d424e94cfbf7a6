using Microsoft.Extensions.Time.Testing;
using NvmeMptls.Crypto.Auth;
using NvmeMptls.Crypto.Psk;
using NvmeMptls.Transport.Nvme.Auth;

namespace NvmeMptls.Tests.Crypto;

/// <summary>
/// Secure channel concatenation (TP 8018; reference §5): the generated PSK's digest, identity and TLS PSK against the
/// kernel's own kunit vectors (drivers/nvme/common/tests/auth_kunit.c, RFC 8446 framing), the bounded expiring store of
/// generated keys, and the keyring's lookup of NVMe1G identities through it.
/// </summary>
public sealed class SecureChannelPskTests
{
    private static (byte[] SessionKey, byte[] C1, byte[] C2) KunitInputs(DhChapHashId hash)
    {
        int hl = DhChapHashes.Length(hash);
        var sessionKey = new byte[hl];
        var c1 = new byte[hl];
        var c2 = new byte[hl];
        for (int i = 0; i < hl; i++)
        {
            sessionKey[i] = (byte)('A' + i);
            c1[i] = (byte)i;
            c2[i] = (byte)(0xff - i);
        }
        return (sessionKey, c1, c2);
    }

    /// <summary>auth_kunit.c test_nvme_auth_derive_tls_psk_hmac_sha256/384 (hostnqn "hostnqn", subsysnqn "subsysnqn").</summary>
    [TestCase(DhChapHashId.Sha256, "1733c59fa7f48fcf37f5f26fc4ff0268ad4f78e030f4f3b0bfd1d47e7bb1447a",
        "OldoKuTfKddMuyCznAZojkWD7P4D9/AtzDzLimtOxqI=", "3c17da628474a04d2247c4cab47968c915388193f7c071bd9489cc3666cd7cc8")]
    [TestCase(DhChapHashId.Sha384, "f14b2dd3234c459694d3bc63f8968bd6b37c2c6de849e22e118749001ce4bbe8640b9e3a748cb11ce4b1d71d359cce39",
        "cffMWk8TSS7HOQebjgYEIkrPrjWPV4JE5cdPB8WhEvY4JBW5YynKyv66XscN4A9n",
        "2774753233537b3fa50eb7d16a8e43457d85f4906c005b2236616c5d80939d0898fff15bb8b77119d2be0aac423e7590")]
    public void Derive_KernelKunitVectors_GivePskDigestIdentityAndTlsPsk(DhChapHashId hash, string psk, string digest, string tlsPsk)
    {
        var (sessionKey, c1, c2) = KunitInputs(hash);
        byte[] generated = SecureChannelPsk.Generate(hash, sessionKey, c1, c2);
        using var derived = SecureChannelPsk.Derive(hash, sessionKey, c1, c2, "hostnqn", "subsysnqn");
        Assert.Multiple(() =>
        {
            Assert.That(Convert.ToHexStringLower(generated), Is.EqualTo(psk), "generated PSK = HMAC(KS, C1 || C2)");
            Assert.That(derived.Identity.Digest, Is.EqualTo(digest), "PSK digest");
            Assert.That(derived.Identity.ToString(), Is.EqualTo($"NVMe1G{(int)hash:D2} hostnqn subsysnqn {digest}"), "identity");
            Assert.That(Convert.ToHexStringLower(derived.TlsPsk), Is.EqualTo(tlsPsk), "TLS PSK");
            Assert.That(derived.Compat, Is.False);
        });
    }

    [Test]
    public void Derive_Sha512_IsRefused_AsTheKernelHasNoDigestForIt()
    {
        var (sessionKey, c1, c2) = KunitInputs(DhChapHashId.Sha512);
        Assert.That(SecureChannelPsk.Supports(DhChapHashId.Sha512), Is.False);
        Assert.Throws<ArgumentOutOfRangeException>(() => SecureChannelPsk.Derive(DhChapHashId.Sha512, sessionKey, c1, c2, "hostnqn", "subsysnqn"));
    }

    [Test]
    public void Derive_DifferentChallenges_GiveDifferentIdentities()
    {
        var (sessionKey, c1, c2) = KunitInputs(DhChapHashId.Sha256);
        using var first = SecureChannelPsk.Derive(DhChapHashId.Sha256, sessionKey, c1, c2, "nqn.h", "nqn.s");
        c2[0] ^= 1;
        using var second = SecureChannelPsk.Derive(DhChapHashId.Sha256, sessionKey, c1, c2, "nqn.h", "nqn.s");
        Assert.That(second.Identity.Digest, Is.Not.EqualTo(first.Identity.Digest));
    }

    private static DerivedTlsPsk Generated(string host = "nqn.2014-08.org.nvmexpress:uuid:1", byte seed = 1)
    {
        var (sessionKey, c1, c2) = KunitInputs(DhChapHashId.Sha256);
        c1[0] = seed;
        return SecureChannelPsk.Derive(DhChapHashId.Sha256, sessionKey, c1, c2, host, "nqn.2026-01.io.nvmemptls:s");
    }

    [Test]
    public void Store_FindsACopy_UntilTheLifetimeEnds()
    {
        var clock = new FakeTimeProvider();
        using var store = new GeneratedPskStore(clock);
        var psk = Generated();
        var identity = psk.Identity;
        byte[] expected = psk.TlsPsk.ToArray();
        store.Insert(psk);
        using (var found = store.Find(identity))
        {
            Assert.That(found, Is.Not.Null);
            Assert.That(found!.TlsPsk.ToArray(), Is.EqualTo(expected));
        }
        Assert.That(store.Find(identity)!.TlsPsk.ToArray(), Is.EqualTo(expected), "the handshake disposes its copy, not the stored key");

        clock.Advance(TimeSpan.FromMinutes(59));
        Assert.That(store.Find(identity), Is.Not.Null);
        clock.Advance(TimeSpan.FromMinutes(1));
        Assert.That(store.Find(identity), Is.Null, "expired after an hour, as the kernel's generated key");
        Assert.That(store.Count, Is.Zero);
    }

    [Test]
    public void Store_IsBounded_DroppingTheOldestFirst()
    {
        var clock = new FakeTimeProvider();
        using var store = new GeneratedPskStore(clock, capacity: 3);
        var identities = new List<NvmePskIdentity>();
        for (byte i = 0; i < 5; i++)
        {
            var psk = Generated(seed: i);
            identities.Add(psk.Identity);
            store.Insert(psk);
            clock.Advance(TimeSpan.FromSeconds(1));
        }
        Assert.Multiple(() =>
        {
            Assert.That(store.Count, Is.EqualTo(3));
            Assert.That(store.Find(identities[0]), Is.Null);
            Assert.That(store.Find(identities[1]), Is.Null);
            Assert.That(store.Find(identities[4]), Is.Not.Null);
        });
    }

    [Test]
    public void Store_Remove_ForgetsTheKey_AndRefusesRetainedIdentities()
    {
        using var store = new GeneratedPskStore();
        var psk = Generated();
        var identity = psk.Identity;
        store.Insert(psk);
        Assert.That(store.Remove(identity.ToString()), Is.True);
        Assert.That(store.Find(identity), Is.Null);
        using var configured = ConfiguredPsk.Parse("NVMeTLSkey-1:01:VRLbtnN9AQb2WXW3c9+wEf/DRLz0QuLdbYvEhwtdWwNf9LrZ:");
        using var retained = ClientPsk.Create(configured, "nqn.psk-test-host", "nqn.psk-test-subsys");
        Assert.Throws<ArgumentException>(() => store.Insert(retained));
    }

    [Test]
    public void Keyring_LooksUpGeneratedIdentities_InItsStore()
    {
        using var store = new GeneratedPskStore();
        using var keyring = new NvmePskKeyring();
        var psk = Generated();
        string identity = psk.Identity.ToString();
        byte[] expected = psk.TlsPsk.ToArray();

        var before = keyring.Lookup(identity);
        Assert.That(before.Failure, Is.EqualTo(PskLookupFailure.GeneratedNotSupported), "no store: G identities are refused");

        keyring.Generated = store;
        Assert.That(keyring.Lookup(identity).Failure, Is.EqualTo(PskLookupFailure.UnknownIdentity), "not generated yet");
        store.Insert(psk);
        var found = keyring.Lookup(identity);
        Assert.That(found.Found, Is.True, found.Reason);
        Assert.That(found.Psk!.TlsPsk.ToArray(), Is.EqualTo(expected));
        found.Psk.Dispose();
    }

    [Test]
    public void HostSession_Concatenating_OffersOnlyUsableIds_AndSendsC2WithSequenceZero()
    {
        using var hostSecret = DhChapSecret.Generate(1, 32, "nqn.h");
        using var controllerSecret = DhChapSecret.Generate(1, 32, "nqn.s");
        using var session = new DhChapHostSession(hostSecret, controllerSecret, "nqn.h", "nqn.s", 9, secureChannel: NegotiateMessage.NewTlsPsk);
        var buffer = new byte[NegotiateMessage.Size];
        session.WriteNegotiate(buffer);
        Assert.That(NegotiateMessage.TryRead(buffer, out var negotiate, out _), Is.True);
        Assert.Multiple(() =>
        {
            Assert.That(negotiate!.SecureChannel, Is.EqualTo(NegotiateMessage.NewTlsPsk));
            Assert.That(negotiate.Hashes, Is.EqualTo(new[] { DhChapHashId.Sha256, DhChapHashId.Sha384 }));
            Assert.That(negotiate.Groups, Does.Not.Contain(DhChapGroupId.Null));
            Assert.That(session.Bidirectional, Is.False, "as the Linux host: S2 = 0 under concatenation");
        });
        Assert.Throws<InvalidOperationException>(() => session.TakeGeneratedPsk(), "no PSK before the transaction");
        Assert.Throws<ArgumentOutOfRangeException>(() => _ = new DhChapHostSession(hostSecret, null, "nqn.h", "nqn.s", 9, secureChannel: 1));
    }
}
