using System.Security.Cryptography;
using NvmeMptls.Crypto.Psk;

namespace NvmeMptls.Tests.Crypto;

/// <summary>Every derivation vector of reference §4.8 (b, c, d).</summary>
public sealed class PskDerivationTests
{
    private const string Host = "nqn.2014-08.org.nvmexpress:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6";
    private const string Subsys = "nqn.2024-01.io.example:subsys1";
    private const string CliKey1 = "NVMeTLSkey-1:01:Yck36G/IuX6rtwLZJbk3hgku7eXhtnJ7nWuIxA4cF9HGWclh:";
    private const string CliKey2 = "NVMeTLSkey-1:02:NNQMl2CPxeGeVhT4e3sIgYkSK1+a6RgaSerSmp5UxCGvDIWia/MC+3I2CWdkqP1FF9hb/Q==:";
    private const string SpecKey = "NVMeTLSkey-1:01:VRLbtnN9AQb2WXW3c9+wEf/DRLz0QuLdbYvEhwtdWwNf9LrZ:";
    private const string SpecKey48 = "NVMeTLSkey-1:02:VRLbtnN9AQb2WXW3c9+wEf/DRLz0QuLdbYvEhwtdWwP/w0S89ELi3W2LxIcLXVsDn8kXZQ==:";

    [TestCase(CliKey1, "9ffba1e5e265af8504a7b21ffaddb3d0c03c683b952fab5ad78373e28ae7db8b")]
    [TestCase(CliKey2, "88d02563aa9877e1d94b5c01ab86c82703ed34d9dc56f832f725ee85189a26a95748b8aef36c91c3c6f71ac7350cd4e8")]
    public void RetainedPsk_CliKey_MatchesVector(string key, string expected)
    {
        using var psk = ConfiguredPsk.Parse(key);
        Assert.That(Convert.ToHexStringLower(NvmePskDerivation.RetainedPsk(psk, Host, compat: false)), Is.EqualTo(expected));
    }

    [TestCase(CliKey1, false, "7+iYxFfWbu+31zkx67b0dmZeoxSw8GXTmuT8Spj2YQ4=", "2ffc95e671505c1270d703c88a9ca213f65c0b03d6f62828f83fe89fd202cd18")]
    [TestCase(CliKey2, false, "GWP+zHPoQr9mNUU+jiKjXOUHn+KucIYMsFsB6gzwbuiMd6LEaGRn/hmsgubNmUK2", "fc607ab6a3574873aeefea0b1255ac22831eaaaf92ca78b74b2c26c35ae60994bb537e3f23e9ac1d60998b8ce4adf1a9")]
    [TestCase(CliKey1, true, "0YGhAMBqtTa7ovKt2Dmnt/iHCSLqYmnyvJuIAfZLmWs=", "31e01a6a7743b61ea7e1fbf9e80fa9071c37a54c73b2d4b4287968b141e16cb8")]
    [TestCase(CliKey2, true, "SHmDupgny9+1NDEcSdDbi0mdioGWZnviQoglbOA8yWaUlvFM0flSi3e7jeKGCrvz", "a1561c6509feb794a6e77f3cc609abe148ed8307f080cabc16a0dfc0cc0817a2a8e4c615a5cb49c7c7b3a81fdfe4f92c")]
    public void DeriveV1_CliKey_MatchesDigestIdentityAndTlsPsk(string key, bool compat, string digest, string tlsPsk)
    {
        using var configured = ConfiguredPsk.Parse(key);
        using var derived = ClientPsk.Create(configured, Host, Subsys, identityVersion: 1, compat);
        string cc = configured.Hmac == NvmePskHash.Sha256 ? "01" : "02";
        Assert.Multiple(() =>
        {
            Assert.That(derived.Identity.ToString(), Is.EqualTo($"NVMe1R{cc} {Host} {Subsys} {digest}"));
            Assert.That(Convert.ToHexStringLower(derived.TlsPsk), Is.EqualTo(tlsPsk));
        });
    }

    [TestCase(CliKey1, "NVMe0R01", "3494b4c3e59267785c787b62b012059275f4bd25e4786ed56aeb793d2b4a3156")]
    [TestCase(CliKey2, "NVMe0R02", "731e80c2e661cb667d02702d5cff941c4145cc9461fb362e6199e3fe97fc391262162b32dcce709b08ac4d5209d4afc8")]
    public void DeriveV0_CliKey_MatchesIdentityAndTlsPsk(string key, string tag, string tlsPsk)
    {
        using var configured = ConfiguredPsk.Parse(key);
        using var derived = ClientPsk.Create(configured, Host, Subsys, identityVersion: 0);
        Assert.Multiple(() =>
        {
            Assert.That(derived.Identity.ToString(), Is.EqualTo($"{tag} {Host} {Subsys}"));
            Assert.That(Convert.ToHexStringLower(derived.TlsPsk), Is.EqualTo(tlsPsk));
        });
    }

    [TestCase(SpecKey, false, "NVMe1R01 nqn.psk-test-host nqn.psk-test-subsys iSbjiStwJ/1TrTvDlt2fjFmzvsytOJelidNnA+X5lEU=")]
    [TestCase(SpecKey48, false, "NVMe1R02 nqn.psk-test-host nqn.psk-test-subsys QhW2+Rp6RzHlNtCslyRxMnwJ11tKKhz8JCAQpQ+XUD8f9td1VeH5h53yz2wKJG1a")]
    [TestCase(SpecKey, true, "NVMe1R01 nqn.psk-test-host nqn.psk-test-subsys 66GuqV08TsAGII39teWUfwQwizjv06Jy8jOcX3NAAzM=")]
    [TestCase(SpecKey48, true, "NVMe1R02 nqn.psk-test-host nqn.psk-test-subsys RsKmYJ3nAn1ApjjMloJFbAkLPivONDAX/xW327YBUsn2eGShXSjCZvBaOxscLqmz")]
    public void DeriveV1_LibnvmeTestKey_MatchesLibnvmeIdentity(string key, bool compat, string identity)
    {
        using var configured = ConfiguredPsk.Parse(key);
        using var derived = ClientPsk.Create(configured, "nqn.psk-test-host", "nqn.psk-test-subsys", 1, compat);
        Assert.That(derived.Identity.ToString(), Is.EqualTo(identity));
    }

    [TestCase(NvmePskHash.Sha256, "OldoKuTfKddMuyCznAZojkWD7P4D9/AtzDzLimtOxqI=", "3c17da628474a04d2247c4cab47968c915388193f7c071bd9489cc3666cd7cc8")]
    [TestCase(NvmePskHash.Sha384, "cffMWk8TSS7HOQebjgYEIkrPrjWPV4JE5cdPB8WhEvY4JBW5YynKyv66XscN4A9n", "2774753233537b3fa50eb7d16a8e43457d85f4906c005b2236616c5d80939d0898fff15bb8b77119d2be0aac423e7590")]
    public void GeneratedPsk_KernelKunitVector_MatchesDigestAndTlsPsk(NvmePskHash hash, string digest, string tlsPsk)
    {
        int n = NvmePskHashes.Length(hash);
        byte[] skey = new byte[n], c1 = new byte[n], c2 = new byte[n];
        for (int i = 0; i < n; i++)
        {
            skey[i] = (byte)('A' + i);
            c1[i] = (byte)i;
            c2[i] = (byte)(0xff - i);
        }
        byte[] challenge = [.. c1, .. c2];
        byte[] generated = hash == NvmePskHash.Sha256 ? HMACSHA256.HashData(skey, challenge) : HMACSHA384.HashData(skey, challenge);
        var identity = NvmePskDerivation.Identity(1, generated: true, hash, generated, "hostnqn", "subsysnqn");
        Assert.Multiple(() =>
        {
            if (hash == NvmePskHash.Sha256)
            {
                string hex = Convert.ToHexStringLower(generated);
                Assert.That(hex, Does.StartWith("1733c59f").And.EndWith("7bb1447a"));
            }
            Assert.That(identity.Digest, Is.EqualTo(digest));
            Assert.That(identity.ToString(), Does.StartWith($"NVMe1G0{(int)hash} hostnqn subsysnqn "));
            Assert.That(Convert.ToHexStringLower(NvmePskDerivation.TlsPsk(identity, generated, compat: false)), Is.EqualTo(tlsPsk));
        });
    }

    [Test]
    public void HkdfInfo_HostNqnLabel_MatchesReferenceIntermediate()
    {
        byte[] info = NvmeHkdf.RfcInfo("HostNQN", System.Text.Encoding.ASCII.GetBytes(Host), 32);
        Assert.That(Convert.ToHexStringLower(info), Does.StartWith("00200d746c73313320486f73744e514e44"));
    }

    [Test]
    public void HkdfInfo_CompatFraming_IsLittleEndianLengthAndNoVectorLengths()
    {
        byte[] info = NvmeHkdf.CompatInfo("nvme-tls-psk", "01 x"u8, 32);
        Assert.That(Convert.ToHexStringLower(info), Is.EqualTo("2000" + Convert.ToHexStringLower("tls13 nvme-tls-psk01 x"u8)));
    }
}
