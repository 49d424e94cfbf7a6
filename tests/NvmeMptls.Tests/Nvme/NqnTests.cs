using NvmeMptls.Transport.Nvme;

namespace NvmeMptls.Tests.Nvme;

/// <summary>
/// The one NQN rule target configuration and initiator options share (NVMe Base §4.5). The common forms and
/// malformed cases are in Target/Configuration/IdentifierTests (through the configuration's view); here what is new.
/// </summary>
public sealed class NqnTests
{
    [TestCase("nqn.2014-08.org.nvmexpress.discovery")]
    [TestCase("nqn.2016-06.io.spdk:cnode1")]
    [TestCase("nqn.2024-01.io.example:größe")]
    public void Check_DiscoverySpdkAndUtf8_AreValid(string nqn) => Assert.That(Nqn.Check(nqn), Is.Null);

    [TestCase("nqn.2026-01.io.example:a\tb")]
    [TestCase("nqn.2026-01.io.example:a\0b")]
    public void Check_ControlCharacter_SaysSo(string nqn) => Assert.That(Nqn.Check(nqn), Does.Contain("control characters"));

    [Test]
    public void Check_Length_CountsUtf8Bytes()
    {
        var ascii = "nqn.2026-01.io.example:" + new string('a', 223 - 23);
        var twoByte = "nqn.2026-01.io.example:" + new string('ß', 100) + "a"; // 23 + 200 + 1 = 224 bytes, 124 chars
        Assert.Multiple(() =>
        {
            Assert.That(Nqn.Check(ascii), Is.Null, "exactly 223 bytes");
            Assert.That(Nqn.Check(ascii + "a"), Does.Contain("at most 223 bytes (was 224)"));
            Assert.That(Nqn.Check(twoByte), Does.Contain("at most 223 bytes (was 224)"));
        });
    }

    [Test]
    public void Discovery_IsTheWellKnownNqn() =>
        Assert.That(WellKnownNqns.Discovery, Is.EqualTo("nqn.2014-08.org.nvmexpress.discovery"));

    [Test]
    public void TargetConfigurationAndInitiatorOptions_ApplyTheSameRule()
    {
        const string bad = "nqn.2026-01.io.example";
        Assert.Multiple(() =>
        {
            var errors = new List<string>();
            var target = NvmeMptls.Target.Configuration.TargetOptions.Default;
            NvmeMptls.Target.Configuration.TargetOptionsValidator.Validate(
                target with { Subsystems = [target.Subsystems[0] with { Nqn = bad }] }, errors);
            Assert.That(errors, Has.One.EndsWith(":Nqn: " + Nqn.Check(bad)));
            var options = NvmeMptls.Initiator.NvmeControllerOptions.Default with { SubsystemNqn = bad };
            var ex = Assert.Throws<ArgumentException>(options.Validate);
            Assert.That(ex!.Message, Does.StartWith("SubsystemNqn " + Nqn.Check(bad)));
            Assert.That(() => (options with { SubsystemNqn = WellKnownNqns.Discovery }).Validate(), Throws.Nothing);
        });
    }

    [TestCase("nqn.psk-test-host", null)]
    [TestCase("nqn.2014-08.org.nvmexpress:uuid:commands-test", null)]
    [TestCase("", "is required")]
    [TestCase("host-1", "must start with \"nqn.\" (was 'host-1')")]
    [TestCase("nqn.a\u0001b", "must not contain control characters (was 'nqn.a\u0001b')")]
    public void CheckPeer_AcceptsWhatLinuxAccepts_RefusesWhatCannotBeAnNqn(string nqn, string? problem) =>
        Assert.That(Nqn.CheckPeer(nqn), Is.EqualTo(problem));
}
