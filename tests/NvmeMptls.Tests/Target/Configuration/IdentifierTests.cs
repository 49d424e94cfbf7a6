using NvmeMptls.Target.Configuration;
using NvmeMptls.Transport.Nvme;

namespace NvmeMptls.Tests.Target.Configuration;

public class IdentifierTests
{
    [TestCase("nqn.2026-01.io.nvmemptls:default")]
    [TestCase("nqn.2014-08.org.nvmexpress:uuid:6f2b3c1e-1a2b-4c3d-8e9f-0a1b2c3d4e5f")]
    [TestCase("nqn.2014-08.com.example:nvme:nvm-subsystem-sn-d78432")]
    public void Nqn_WellFormed_IsAccepted(string nqn) => Assert.That(Nqn.Check(nqn), Is.Null);

    [TestCase("", "is required")]
    [TestCase("nqn.2026-1.io.example:x", "must look like")]
    [TestCase("nqn.2026-13.io.example:x", "must look like")]
    [TestCase("nqn.2026-01.io.example", "must look like")]
    [TestCase("nqn.2026-01.io.example:", "must look like")]
    [TestCase("iqn.2026-01.io.example:x", "must look like")]
    [TestCase("nqn.2014-08.org.nvmexpress:uuid:not-a-uuid", "36-character UUID")]
    public void Nqn_Malformed_SaysWhy(string nqn, string expected) => Assert.That(Nqn.Check(nqn), Does.Contain(expected));

    [Test]
    public void Nqn_Over223Bytes_IsRejected()
    {
        string nqn = "nqn.2026-01.io.example:" + new string('a', 223 - 23);
        Assert.That(Nqn.Check(nqn), Is.Null, "exactly 223 bytes is allowed");
        Assert.That(Nqn.Check(nqn + "a"), Does.Contain("at most 223 bytes (was 224)"));
    }

    [Test]
    public void NamespaceIdentifiers_Derived_AreStableAndDistinctPerNamespace()
    {
        const string nqn = "nqn.2026-01.io.nvmemptls:default";
        // Known answers computed independently (Python hashlib) so a change of derivation cannot go unnoticed:
        // a changed NGUID renames every namespace on every host after an upgrade.
        Assert.That(NamespaceIdentifiers.FormatNguid(NamespaceIdentifiers.DeriveNguid(nqn, 1)), Is.EqualTo("9cec608028de2fb1f5ca3696318b971c"));
        Assert.That(NamespaceIdentifiers.DeriveUuid(nqn, 1), Is.EqualTo(Guid.Parse("3394bfcf-6bbb-85f9-b7c9-0454e62abd78")));
        Assert.That(NamespaceIdentifiers.DeriveSerial(nqn), Is.EqualTo("D623F55250A90548E5FD"));
        Assert.That(NamespaceIdentifiers.DeriveNguid(nqn, 1), Is.Not.EqualTo(NamespaceIdentifiers.DeriveNguid(nqn, 2)));
        Assert.That(NamespaceIdentifiers.DeriveNguid(nqn, 1), Is.Not.EqualTo(NamespaceIdentifiers.DeriveNguid(nqn + "x", 1)));
        Assert.That(NamespaceIdentifiers.DeriveUuid(nqn, 1), Is.Not.EqualTo(NamespaceIdentifiers.DeriveUuid(nqn, 2)));
        Assert.That(NamespaceIdentifiers.DeriveSerial(nqn), Has.Length.EqualTo(20).And.Match("^[0-9A-F]{20}$"));
    }

    [Test]
    public void NamespaceIdentifiers_DerivedUuid_HasVersion8AndRfcVariant()
    {
        Span<byte> bytes = stackalloc byte[16];
        NamespaceIdentifiers.WriteUuid(NamespaceIdentifiers.DeriveUuid("nqn.2026-01.io.nvmemptls:default", 7), bytes);
        Assert.That(bytes[6] >> 4, Is.EqualTo(8));
        Assert.That(bytes[8] >> 6, Is.EqualTo(2));
    }

    [Test]
    public void NamespaceIdentifiers_Nguid_ParsesHexAndWritesBigEndian()
    {
        Assert.That(NamespaceIdentifiers.TryParseNguid("00112233-4455-6677-8899-aabbccddeeff", out UInt128 nguid), Is.True);
        var bytes = new byte[16];
        NamespaceIdentifiers.WriteNguid(nguid, bytes);
        Assert.That(Convert.ToHexStringLower(bytes), Is.EqualTo("00112233445566778899aabbccddeeff"));
        Assert.That(NamespaceIdentifiers.TryParseNguid(new string('0', 32), out _), Is.False, "all-zero means 'no NGUID'");
        Assert.That(NamespaceIdentifiers.TryParseNguid("0011", out _), Is.False);
        Assert.That(NamespaceIdentifiers.TryParseNguid(new string('g', 32), out _), Is.False);
    }

    [Test]
    public void TlsKeyFormat_ReferenceShapes_AreAcceptedAndBrokenOnesExplained()
    {
        const string key32 = "NVMeTLSkey-1:01:HdyRGhFQjHK6zpxUWXpra20Q3IVwCI0NOWncu+zsSnVNi4Ca:";
        string key48 = "NVMeTLSkey-1:02:" + Convert.ToBase64String(new byte[52]) + ":";
        Assert.That(TlsKeyFormat.Check(key32), Is.Null);
        Assert.That(key32, Has.Length.EqualTo(65));
        Assert.That(TlsKeyFormat.Check(key48), Is.Null);
        Assert.That(key48, Has.Length.EqualTo(89));
        Assert.That(TlsKeyFormat.Check("NVMeTLSkey-1:00:" + Convert.ToBase64String(new byte[52]) + ":"), Is.Null);

        Assert.That(TlsKeyFormat.Check("NVMeTLSkey-2:01:abcd:"), Does.Contain("must have the form"));
        Assert.That(TlsKeyFormat.Check(key32[..^1]), Does.Contain("must have the form"));
        Assert.That(TlsKeyFormat.Check(key32.Replace(":01:", ":03:", StringComparison.Ordinal)), Does.Contain("must be 00, 01 or 02"));
        Assert.That(TlsKeyFormat.Check("NVMeTLSkey-1:01:" + Convert.ToBase64String(new byte[20]) + ":"), Does.Contain("32 or 48 bytes"));
        Assert.That(TlsKeyFormat.Check("NVMeTLSkey-1:01:" + Convert.ToBase64String(new byte[52]) + ":"), Does.Contain("needs a 32-byte key"));
        Assert.That(TlsKeyFormat.Check("NVMeTLSkey-1:01:!!!notbase64!!!:"), Does.Contain("not valid base64"));
        Assert.That(TlsKeyFormat.Check(key32.Replace(":01:", ":03:", StringComparison.Ordinal)), Does.Not.Contain("HdyRGh"), "never echoes key material");
    }

    [Test]
    public void TlsKeyOptions_ToString_RedactsKey()
    {
        var options = new TlsKeyOptions { Key = "NVMeTLSkey-1:01:HdyRGhFQjHK6zpxUWXpra20Q3IVwCI0NOWncu+zsSnVNi4Ca:" };
        Assert.That(options.ToString(), Does.Not.Contain("HdyRGh").And.Contain("<redacted>"));
    }
}
