using NvmeMptls.Crypto.Psk;

namespace NvmeMptls.Tests.Crypto;

public sealed class PskKeyringTests
{
    private const string SpecKey = "NVMeTLSkey-1:01:VRLbtnN9AQb2WXW3c9+wEf/DRLz0QuLdbYvEhwtdWwNf9LrZ:";
    private const string CliKey2 = "NVMeTLSkey-1:02:NNQMl2CPxeGeVhT4e3sIgYkSK1+a6RgaSerSmp5UxCGvDIWia/MC+3I2CWdkqP1FF9hb/Q==:";
    private const string Host = "nqn.psk-test-host";
    private const string Subsys = "nqn.psk-test-subsys";

    [TestCase(false)]
    [TestCase(true)]
    public void Lookup_V1IdentityInEitherForm_FindsSameTlsPskAsClientAndReportsForm(bool compat)
    {
        using var keyring = new NvmePskKeyring();
        keyring.Add(CliKey2);
        keyring.Add(SpecKey);
        using var client = ClientPsk.Create(ConfiguredPsk.Parse(SpecKey), Host, Subsys, 1, compat);
        var result = keyring.Lookup(client.Identity.ToString());
        Assert.That(result.Found, Is.True, result.Reason);
        Assert.Multiple(() =>
        {
            Assert.That(result.Psk!.TlsPsk.ToArray(), Is.EqualTo(client.TlsPsk.ToArray()));
            Assert.That(result.Psk.Compat, Is.EqualTo(compat));
        });
    }

    [TestCase(false)]
    [TestCase(true)]
    public void Lookup_V0Identity_UsesConfiguredForm(bool v0Compat)
    {
        using var keyring = new NvmePskKeyring();
        keyring.Add(SpecKey, v0Compat: v0Compat);
        using var client = ClientPsk.Create(ConfiguredPsk.Parse(SpecKey), Host, Subsys, 0, v0Compat);
        using var other = ClientPsk.Create(ConfiguredPsk.Parse(SpecKey), Host, Subsys, 0, !v0Compat);
        var result = keyring.Lookup("NVMe0R01 nqn.psk-test-host nqn.psk-test-subsys");
        Assert.That(result.Found, Is.True);
        Assert.Multiple(() =>
        {
            Assert.That(result.Psk!.TlsPsk.ToArray(), Is.EqualTo(client.TlsPsk.ToArray()));
            Assert.That(result.Psk.TlsPsk.ToArray(), Is.Not.EqualTo(other.TlsPsk.ToArray()));
        });
    }

    [Test]
    public void Lookup_DigestOfUnknownKey_FailsUnknownIdentity()
    {
        using var keyring = new NvmePskKeyring();
        keyring.Add(SpecKey);
        using var stranger = ClientPsk.Create(ConfiguredPsk.Generate(NvmePskHash.Sha256), Host, Subsys);
        Assert.That(keyring.Lookup(stranger.Identity.ToString()).Failure, Is.EqualTo(PskLookupFailure.UnknownIdentity));
    }

    [Test]
    public void Lookup_KeyRestrictedToOtherHost_FailsHostNotAllowed()
    {
        using var keyring = new NvmePskKeyring();
        keyring.Add(SpecKey, hostNqn: "nqn.other-host");
        using var client = ClientPsk.Create(ConfiguredPsk.Parse(SpecKey), Host, Subsys);
        Assert.That(keyring.Lookup(client.Identity.ToString()).Failure, Is.EqualTo(PskLookupFailure.HostNotAllowed));
    }

    [Test]
    public void Lookup_KeyRestrictedToOtherSubsystem_FailsSubsystemNotAllowed()
    {
        using var keyring = new NvmePskKeyring();
        keyring.Add(SpecKey, hostNqn: Host, subsysNqn: "nqn.other-subsys");
        using var client = ClientPsk.Create(ConfiguredPsk.Parse(SpecKey), Host, Subsys);
        Assert.That(keyring.Lookup(client.Identity.ToString()).Failure, Is.EqualTo(PskLookupFailure.SubsystemNotAllowed));
    }

    [TestCase("not an identity", PskLookupFailure.MalformedIdentity)]
    [TestCase("NVMe1G01 nqn.psk-test-host nqn.psk-test-subsys iSbjiStwJ/1TrTvDlt2fjFmzvsytOJelidNnA+X5lEU=", PskLookupFailure.GeneratedNotSupported)]
    public void Lookup_UnusableIdentity_FailsWithReason(string identity, PskLookupFailure expected)
    {
        using var keyring = new NvmePskKeyring();
        keyring.Add(SpecKey);
        var result = keyring.Lookup(identity);
        Assert.That(result.Failure, Is.EqualTo(expected));
        Assert.That(result.Reason, Is.Not.Empty);
    }
}
