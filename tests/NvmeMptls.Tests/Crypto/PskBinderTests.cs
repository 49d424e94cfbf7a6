using NvmeMptls.Crypto.Handshake;
using NvmeMptls.Crypto.Psk;
using NvmeMptls.Transport.Connections;
using NvmeMptls.Transport.Tls;
using Org.BouncyCastle.Security;
using Org.BouncyCastle.Tls;
using Org.BouncyCastle.Tls.Crypto.Impl.BC;

namespace NvmeMptls.Tests.Crypto;

/// <summary>
/// The PSK binder check that tells a version-0 identity's RFC-form TLS PSK from its compat-form one (reference §4.4,
/// RFC 8446 §4.2.11.2): known answers, agreement with the binder BouncyCastle's client writes, and the server picking
/// the form without any configuration.
/// </summary>
public sealed class PskBinderTests
{
    private const string Key256 = "NVMeTLSkey-1:01:VRLbtnN9AQb2WXW3c9+wEf/DRLz0QuLdbYvEhwtdWwNf9LrZ:";
    private const string Key384 = "NVMeTLSkey-1:02:VRLbtnN9AQb2WXW3c9+wEf/DRLz0QuLdbYvEhwtdWwP/w0S89ELi3W2LxIcLXVsDn8kXZQ==:";
    private const string Host = "nqn.psk-test-host";
    private const string Subsys = "nqn.psk-test-subsys";

    /// <summary>
    /// PSK = 00 01 02 … (hash length), truncated hello = 200 bytes (i*7+3) mod 256; expected values computed with
    /// Python's hmac/hashlib (RFC 8446 §7.1 HKDF-Expand-Label written out by hand, not this code).
    /// </summary>
    [TestCase(NvmePskHash.Sha256, "0e36a9435de9607ffc1e4caf25fbf73db7d167140f0b7f2827e85487754d21e3")]
    [TestCase(NvmePskHash.Sha384, "ed6587652b20357aad66fdc22757fcbcdf344e196621bc07f69c0d76a00cbf4d2355f518914deea83cd8cdb81cfea754")]
    public void Compute_KnownAnswer(NvmePskHash hash, string expected)
    {
        int length = NvmePskHashes.Length(hash);
        byte[] psk = Enumerable.Range(0, length).Select(i => (byte)i).ToArray();
        byte[] hello = Enumerable.Range(0, 200).Select(i => (byte)((i * 7) + 3)).ToArray();
        Assert.That(Convert.ToHexStringLower(PskBinder.Compute(hash, psk, hello)), Is.EqualTo(expected));
    }

    [TestCase(Key256, 0, false)]
    [TestCase(Key256, 0, true)]
    [TestCase(Key384, 0, false)]
    [TestCase(Key384, 0, true)]
    [TestCase(Key256, 1, true)]
    public void Compute_EqualsTheBinderBouncyCastleClientWrote_AndNotTheOtherForms(string key, int version, bool compat)
    {
        using var configured = ConfiguredPsk.Parse(key);
        using var offeredPsk = ClientPsk.Create(configured, Host, Subsys, version, compat);
        using var otherForm = ClientPsk.Create(configured, Host, Subsys, version, !compat);
        ClientHelloPsks offered = ClientHelloOf(offeredPsk);

        Assert.Multiple(() =>
        {
            Assert.That(offered.Identities, Has.Count.EqualTo(1));
            Assert.That(System.Text.Encoding.ASCII.GetString(offered.Identities[0]), Is.EqualTo(offeredPsk.Identity.ToString()));
            Assert.That(offered.TruncatedHello[0], Is.EqualTo(1), "the truncated hello starts with the handshake header");
            Assert.That(PskBinder.Compute(offeredPsk.Hash, offeredPsk.TlsPsk, offered.TruncatedHello), Is.EqualTo(offered.Binders[0]));
            Assert.That(PskBinder.Verifies(offeredPsk.Hash, offeredPsk.TlsPsk, offered.TruncatedHello, offered.Binders[0]), Is.True);
            Assert.That(PskBinder.Verifies(otherForm.Hash, otherForm.TlsPsk, offered.TruncatedHello, offered.Binders[0]), Is.False,
                "the other derivation form's PSK must not verify");
        });
    }

    [TestCase(Key256, false, 0x1301)]
    [TestCase(Key256, true, 0x1301)]
    [TestCase(Key384, false, 0x1302)]
    [TestCase(Key384, true, 0x1302)]
    public async Task V0Identity_ServerWithoutFormSetting_PicksTheFormTheBinderVerifies(string key, bool compat, int suite)
    {
        using var keyring = new NvmePskKeyring();
        keyring.Add(key);
        using var psk = ClientPsk.Create(ConfiguredPsk.Parse(key), Host, Subsys, 0, compat);
        var (a, b) = MemoryConnection.CreatePair();
        var serverTask = NvmeTls.AcceptAsync(b, keyring);
        await using var client = await NvmeTls.ConnectAsync(a, psk);
        await using var server = await serverTask;
        Assert.Multiple(() =>
        {
            Assert.That(server.Tls!.PskIdentity, Is.EqualTo($"NVMe0R0{(int)psk.Hash} {Host} {Subsys}"));
            Assert.That(server.Tls.CompatDerivation, Is.EqualTo(compat));
            Assert.That(server.Tls.CipherSuite, Is.EqualTo(suite));
        });
        await client.Output.WriteAsync(new byte[] { 1, 2, 3 });
        var read = await server.Input.ReadAsync();
        Assert.That(read.Buffer.Length, Is.EqualTo(3), "data flows under the chosen PSK");
        server.Input.AdvanceTo(read.Buffer.End);
    }

    [Test]
    public async Task V0Identity_SecondConfiguredKeyHoldsTheRightPsk_SelectedByBinder()
    {
        using var keyring = new NvmePskKeyring();
        keyring.Add(ConfiguredPsk.Generate(NvmePskHash.Sha256));
        keyring.Add(Key256);
        using var psk = ClientPsk.Create(ConfiguredPsk.Parse(Key256), Host, Subsys, 0, compat: true);
        var (a, b) = MemoryConnection.CreatePair();
        var serverTask = NvmeTls.AcceptAsync(b, keyring);
        await using var client = await NvmeTls.ConnectAsync(a, psk);
        await using var server = await serverTask;
        Assert.That(server.Tls!.CompatDerivation, Is.True);
    }

    [Test]
    public void V0Identity_FormPinnedToRfc_CompatClientRefusedWithPskMismatchNamingFormAndIdentity()
    {
        using var keyring = new NvmePskKeyring();
        keyring.Add(Key256, v0Compat: false);
        using var psk = ClientPsk.Create(ConfiguredPsk.Parse(Key256), Host, Subsys, 0, compat: true);
        TlsHandshakeException server = RefusedOnServer(keyring, psk);
        Assert.Multiple(() =>
        {
            Assert.That(server.Reason, Is.EqualTo(TlsHandshakeFailure.PskMismatch));
            Assert.That(server.Alert, Is.EqualTo(TlsAlertDescription.DecryptError));
            Assert.That(server.FormsTried, Is.EqualTo("v0-rfc"));
            Assert.That(server.OfferedIdentity, Is.EqualTo($"NVMe0R01 {Host} {Subsys}"));
        });
    }

    [Test]
    public void V0Identity_WrongKey_BothFormsTriedThenPskMismatch()
    {
        using var keyring = new NvmePskKeyring();
        keyring.Add(Key256);
        using var psk = ClientPsk.Create(ConfiguredPsk.Generate(NvmePskHash.Sha256), Host, Subsys, 0);
        TlsHandshakeException server = RefusedOnServer(keyring, psk);
        Assert.Multiple(() =>
        {
            Assert.That(server.Reason, Is.EqualTo(TlsHandshakeFailure.PskMismatch));
            Assert.That(server.FormsTried, Is.EqualTo("v0-rfc, v0-compat"));
            Assert.That(server.Message, Does.Not.Contain(Convert.ToHexString(psk.TlsPsk)).IgnoreCase, "no key bytes");
        });
    }

    [Test]
    public void UnknownIdentity_NoFormTried()
    {
        using var keyring = new NvmePskKeyring();
        keyring.Add(Key384);
        using var psk = ClientPsk.Create(ConfiguredPsk.Parse(Key256), Host, Subsys, 0);
        TlsHandshakeException server = RefusedOnServer(keyring, psk);
        Assert.Multiple(() =>
        {
            Assert.That(server.Reason, Is.EqualTo(TlsHandshakeFailure.UnknownIdentity));
            Assert.That(server.FormsTried, Is.EqualTo("none"));
            Assert.That(server.OfferedIdentity, Is.EqualTo($"NVMe0R01 {Host} {Subsys}"));
        });
    }

    private static TlsHandshakeException RefusedOnServer(NvmePskKeyring keyring, DerivedTlsPsk psk)
    {
        var (a, b) = MemoryConnection.CreatePair();
        var serverTask = NvmeTls.AcceptAsync(b, keyring);
        Assert.ThrowsAsync<TlsHandshakeException>(() => NvmeTls.ConnectAsync(a, psk));
        return Assert.ThrowsAsync<TlsHandshakeException>(() => serverTask)!;
    }

    /// <summary>The first flight of our BouncyCastle client offering <paramref name="psk"/>, parsed by the server's check.</summary>
    private static ClientHelloPsks ClientHelloOf(DerivedTlsPsk psk)
    {
        var client = new BcPskTlsClient(new BcTlsCrypto(new SecureRandom()), psk, [NamedGroup.x25519]);
        var protocol = new TlsClientProtocol();
        protocol.Connect(client);
        var flight = new byte[protocol.GetAvailableOutputBytes()];
        protocol.ReadOutput(flight, 0, flight.Length);
        Assert.That(flight[0], Is.EqualTo((byte)TlsContentType.Handshake));
        int length = (flight[3] << 8) | flight[4];
        Assert.That(flight, Has.Length.EqualTo(TlsRecordLimits.HeaderLength + length), "one record");
        Assert.That(ClientHelloCheck.IsAcceptable([flight], out ClientHelloPsks? offered), Is.True);
        return offered!;
    }
}
