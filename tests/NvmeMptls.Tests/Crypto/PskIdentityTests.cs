using NvmeMptls.Crypto.Psk;

namespace NvmeMptls.Tests.Crypto;

public sealed class PskIdentityTests
{
    [Test]
    public void Parse_V1Identity_GivesAllFields()
    {
        const string text = "NVMe1R01 nqn.psk-test-host nqn.psk-test-subsys iSbjiStwJ/1TrTvDlt2fjFmzvsytOJelidNnA+X5lEU=";
        Assert.That(NvmePskIdentity.TryParse(text, out var id, out _), Is.True);
        Assert.Multiple(() =>
        {
            Assert.That(id!.Version, Is.EqualTo(1));
            Assert.That(id.Generated, Is.False);
            Assert.That(id.Hash, Is.EqualTo(NvmePskHash.Sha256));
            Assert.That(id.HostNqn, Is.EqualTo("nqn.psk-test-host"));
            Assert.That(id.SubsystemNqn, Is.EqualTo("nqn.psk-test-subsys"));
            Assert.That(id.Digest, Is.EqualTo("iSbjiStwJ/1TrTvDlt2fjFmzvsytOJelidNnA+X5lEU="));
            Assert.That(id.ToString(), Is.EqualTo(text));
        });
    }

    [Test]
    public void Parse_V0GeneratedSha384_GivesFieldsWithoutDigest()
    {
        Assert.That(NvmePskIdentity.TryParse("NVMe0G02 nqn.h nqn.s", out var id, out _), Is.True);
        Assert.Multiple(() =>
        {
            Assert.That(id!.Version, Is.EqualTo(0));
            Assert.That(id.Generated, Is.True);
            Assert.That(id.Hash, Is.EqualTo(NvmePskHash.Sha384));
            Assert.That(id.Digest, Is.Null);
        });
    }

    [TestCase("NVMe0G02 h nqn.s", "host NQN field must start with \"nqn.\" (was 'h')")]
    [TestCase("NVMe0R01 nqn.h s", "subsystem NQN field must start with \"nqn.\" (was 's')")]
    public void Parse_FieldThatIsNoNqn_IsRefusedWithTheRuleItBreaks(string text, string reason)
    {
        Assert.Multiple(() =>
        {
            Assert.That(NvmePskIdentity.TryParse(text, out var id, out var why), Is.False);
            Assert.That(id, Is.Null);
            Assert.That(why, Is.EqualTo(reason));
        });
    }

    [TestCase("client1")]
    [TestCase("NVMe2R01 h s")]
    [TestCase("NVMe1X01 h s d")]
    [TestCase("NVMe1R03 h s iSbjiStwJ/1TrTvDlt2fjFmzvsytOJelidNnA+X5lEU=")]
    [TestCase("NVMe1R01 h s")]
    [TestCase("NVMe0R01 h s extra")]
    [TestCase("NVMe1R01 h s short=")]
    [TestCase("NVMe1R01  s iSbjiStwJ/1TrTvDlt2fjFmzvsytOJelidNnA+X5lEU=")]
    public void Parse_Malformed_ReturnsFalseWithReason(string text)
    {
        Assert.That(NvmePskIdentity.TryParse(text, out _, out string reason), Is.False);
        Assert.That(reason, Is.Not.Empty);
    }

    [TestCase("NVMe0R01  nqn.2014-08.org.nvmexpress.discovery", "empty host NQN field")]
    [TestCase("NVMe1R01  s iSbjiStwJ/1TrTvDlt2fjFmzvsytOJelidNnA+X5lEU=", "empty host NQN field")]
    [TestCase("NVMe0R01 nqn.2024-01.io.example:h ", "empty subsystem NQN field")]
    [TestCase("NVMe0R01 h s extra", "a version 0 identity has 3 space-separated fields, got 4")]
    public void Parse_EmptyOrMissingField_SaysWhatIsWrong(string text, string expected)
    {
        Assert.That(NvmePskIdentity.TryParse(text, out _, out string reason), Is.False);
        Assert.That(reason, Does.StartWith(expected));
    }
}
