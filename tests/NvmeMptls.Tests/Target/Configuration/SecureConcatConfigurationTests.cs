using NvmeMptls.Target.Configuration;
using NvmeMptls.Target.Hosting;

namespace NvmeMptls.Tests.Target.Configuration;

/// <summary>Target:DhChap:Hosts:N:SecureConcat and the --dhchap-concat quick start: what they need and the messages naming the key.</summary>
public sealed class SecureConcatConfigurationTests
{
    private const string HostSecret = "DHHC-1:00:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh+KfiaR:";
    private static readonly KeyValuePair<string, string?>[] s_noEnvironment = [];
    private string _directory = "";

    [SetUp]
    public void SetUp() => _directory = Directory.CreateTempSubdirectory("nvmemptls-concat-").FullName;

    [TearDown]
    public void TearDown() => Directory.Delete(_directory, recursive: true);

    [Test]
    public void CommandLine_DhChapConcat_RequiresConcatenation_AndMakesTheFirstPortTlsOptional()
    {
        var result = TargetCommandLine.Parse(["--dhchap-secret", HostSecret, "--dhchap-concat"], s_noEnvironment, _directory);
        Assert.That(result.Errors, Is.Empty);
        var entry = result.Options!.DhChap.Hosts.Single();
        Assert.Multiple(() =>
        {
            Assert.That(entry.SecureConcat, Is.True);
            Assert.That(result.Options.Ports.All(p => p.Tls == TlsMode.Optional), Is.True);
            Assert.That(TargetBuilder.BuildAuthentication(result.Options.DhChap).Entries.Single().Keys.SecureConcat, Is.True);
        });
    }

    [Test]
    public void CommandLine_DhChapConcat_WithoutSecret_OrWithTlsRequired_IsRefused()
    {
        Assert.That(TargetCommandLine.Parse(["--dhchap-concat"], s_noEnvironment, _directory).Errors,
            Has.One.StartsWith("--dhchap-concat: needs --dhchap-secret"));
        Assert.That(TargetCommandLine.Parse(["--dhchap-secret", HostSecret, "--dhchap-concat", "--tls", "required"], s_noEnvironment, _directory).Errors,
            Has.One.StartsWith("--dhchap-concat: needs --tls optional"));
    }

    [Test]
    public void Configuration_SecureConcat_NeedsAGroupAHashAndAnOptionalTlsPort()
    {
        var errors = ConfigurationTestKit.Errors(
            ("Target:DhChap:Hosts:0:Secret", HostSecret),
            ("Target:DhChap:Hosts:0:SecureConcat", "true"),
            ("Target:DhChap:Hosts:0:Hashes:0", "sha512"),
            ("Target:DhChap:Hosts:0:DhGroups:0", "null"));
        Assert.Multiple(() =>
        {
            Assert.That(errors, Has.One.StartsWith("Target:DhChap:Hosts:0:SecureConcat: needs a DH group other than null"));
            Assert.That(errors, Has.One.StartsWith("Target:DhChap:Hosts:0:SecureConcat: needs sha256 or sha384"));
            Assert.That(errors, Has.One.StartsWith("Target:DhChap:Hosts:0:SecureConcat: needs a port with Tls 'optional'"));
        });
    }
}
