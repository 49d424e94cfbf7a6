using NvmeMptls.Crypto.Psk;

namespace NvmeMptls.Tests.Crypto;

/// <summary>Interchange format and CRC against nvme-cli 2.3 output and libnvme test/psk.c (reference §4.8 a, c).</summary>
public sealed class PskInterchangeTests
{
    private const string CliKey1 = "NVMeTLSkey-1:01:Yck36G/IuX6rtwLZJbk3hgku7eXhtnJ7nWuIxA4cF9HGWclh:";
    private const string CliKey2 = "NVMeTLSkey-1:02:NNQMl2CPxeGeVhT4e3sIgYkSK1+a6RgaSerSmp5UxCGvDIWia/MC+3I2CWdkqP1FF9hb/Q==:";
    private const string SpecKeyHex = "5512DBB6737D0106F65975B773DFB011FFC344BCF442E2DD6D8BC4870B5D5B03";

    [Test]
    public void Crc32_CheckString_MatchesZlib() =>
        Assert.That(Crc32Ieee.Compute("123456789"u8), Is.EqualTo(0xCBF43926u));

    [Test]
    public void Parse_NvmeCliHmac1Key_GivesKeyAndCrc()
    {
        using var psk = ConfiguredPsk.Parse(CliKey1);
        Assert.Multiple(() =>
        {
            Assert.That(psk.Hmac, Is.EqualTo(NvmePskHash.Sha256));
            Assert.That(Convert.ToHexStringLower(psk.Key), Is.EqualTo("61c937e86fc8b97eabb702d925b93786092eede5e1b6727b9d6b88c40e1c17d1"));
            Assert.That(psk.Crc, Is.EqualTo(0x61c959c6u));
            Assert.That(psk.ToInterchange(), Is.EqualTo(CliKey1));
        });
    }

    [Test]
    public void Parse_NvmeCliHmac2Key_GivesLength48AndCrc()
    {
        using var psk = ConfiguredPsk.Parse(CliKey2);
        Assert.Multiple(() =>
        {
            Assert.That(psk.Hmac, Is.EqualTo(NvmePskHash.Sha384));
            Assert.That(psk.Key.Length, Is.EqualTo(48));
            Assert.That(psk.Crc, Is.EqualTo(0xfd5bd817u));
            Assert.That(psk.ToInterchange(), Has.Length.EqualTo(89));
        });
    }

    [Test]
    public void Parse_AlteredLastCharacter_ReportsCrcMismatchLikeNvmeCli()
    {
        bool ok = ConfiguredPsk.TryParse("NVMeTLSkey-1:01:VRLbtnN9AQb2WXW3c9+wEf/DRLz0QuLdbYvEhwtdWwNf9LrA:", out _, out var error);
        Assert.Multiple(() =>
        {
            Assert.That(ok, Is.False);
            Assert.That(error.Failure, Is.EqualTo(PskParseFailure.CrcMismatch));
            Assert.That(error.Message, Is.EqualTo("CRC mismatch (key c0baf45f, crc d9baf45f)"));
        });
    }

    [TestCase("01", "NVMeTLSkey-1:01:VRLbtnN9AQb2WXW3c9+wEf/DRLz0QuLdbYvEhwtdWwNf9LrZ:")]
    [TestCase("00", "NVMeTLSkey-1:00:VRLbtnN9AQb2WXW3c9+wEf/DRLz0QuLdbYvEhwtdWwNf9LrZ:")]
    public void Write_SpecKey32_MatchesLibnvmeExport(string hh, string expected)
    {
        using var psk = new ConfiguredPsk((NvmePskHash)Convert.ToByte(hh, 16), Convert.FromHexString(SpecKeyHex));
        Assert.That(psk.ToInterchange(), Is.EqualTo(expected));
    }

    [Test]
    public void Write_SpecKey48_MatchesLibnvmeExport()
    {
        using var psk = new ConfiguredPsk(NvmePskHash.Sha384, Convert.FromHexString(SpecKeyHex + "FFC344BCF442E2DD6D8BC4870B5D5B03"));
        Assert.That(psk.ToInterchange(),
            Is.EqualTo("NVMeTLSkey-1:02:VRLbtnN9AQb2WXW3c9+wEf/DRLz0QuLdbYvEhwtdWwP/w0S89ELi3W2LxIcLXVsDn8kXZQ==:"));
    }

    [TestCase("NVMeTLSkey-2:01:VRLbtnN9AQb2WXW3c9+wEf/DRLz0QuLdbYvEhwtdWwNf9LrZ:", PskParseFailure.BadFormat)]
    [TestCase("NVMeTLSkey-1:03:VRLbtnN9AQb2WXW3c9+wEf/DRLz0QuLdbYvEhwtdWwNf9LrZ:", PskParseFailure.BadHmac)]
    [TestCase("NVMeTLSkey-1:02:VRLbtnN9AQb2WXW3c9+wEf/DRLz0QuLdbYvEhwtdWwNf9LrZ:", PskParseFailure.BadLength)]
    [TestCase("NVMeTLSkey-1:01:VRLbtnN9AQb2WXW3c9+wEf/DRLz0QuLdbYvEhwtdWwNf9Lr!:", PskParseFailure.BadBase64)]
    [TestCase("NVMeTLSkey-1:01:VRLbtnN9AQb2WXW3c9+wEf/DRLz0QuLdbYvEhwtdWwNf9LrZ", PskParseFailure.BadFormat)]
    public void Parse_InvalidString_Rejected(string text, PskParseFailure expected)
    {
        Assert.That(ConfiguredPsk.TryParse(text, out _, out var error), Is.False);
        Assert.That(error.Failure, Is.EqualTo(expected));
    }

    [TestCase(NvmePskHash.Sha256, 32)]
    [TestCase(NvmePskHash.Sha384, 48)]
    public void Generate_Hmac_GivesKeyOfHashLengthThatRoundTrips(NvmePskHash hmac, int length)
    {
        using var a = ConfiguredPsk.Generate(hmac);
        using var b = ConfiguredPsk.Generate(hmac);
        using var parsed = ConfiguredPsk.Parse(a.ToInterchange());
        Assert.Multiple(() =>
        {
            Assert.That(a.Key.Length, Is.EqualTo(length));
            Assert.That(parsed.Key.ToArray(), Is.EqualTo(a.Key.ToArray()));
            Assert.That(a.Key.ToArray(), Is.Not.EqualTo(b.Key.ToArray()));
        });
    }
}
