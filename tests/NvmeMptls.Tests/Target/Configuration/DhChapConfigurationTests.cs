using NvmeMptls.Target.Auth;
using NvmeMptls.Target.Configuration;
using NvmeMptls.Target.Hosting;
using NvmeMptls.Target.Metrics;
using NvmeMptls.Transport.Nvme.Auth;

namespace NvmeMptls.Tests.Target.Configuration;

/// <summary>Target:DhChap, the --dhchap-secret quick start, key-file rules and the metric labels.</summary>
public sealed class DhChapConfigurationTests
{
    private const string HostSecret = "DHHC-1:00:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh+KfiaR:";
    private const string ControllerSecret = "DHHC-1:01:jWiK0NeSweQjGFEI9c4bjHV792NxG/KQG1mAfCQAiRlmCljm:";
    private const string Host = "nqn.2014-08.org.nvmexpress:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6";
    private static readonly KeyValuePair<string, string?>[] s_noEnvironment = [];
    private string _directory = "";

    [SetUp]
    public void SetUp()
    {
        _directory = Path.Combine(Path.GetTempPath(), "nvmemptls-dhchap-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(_directory);
    }

    [TearDown]
    public void TearDown() => Directory.Delete(_directory, recursive: true);

    [Test]
    public void CommandLine_DhChapSecrets_ApplyToEveryHostOfTheFirstSubsystem()
    {
        var result = TargetCommandLine.Parse(["--nqn", "nqn.2026-01.io.example:quick", "--dhchap-secret", HostSecret, "--dhchap-ctrl-secret", ControllerSecret],
            s_noEnvironment, _directory);
        Assert.That(result.Errors, Is.Empty);
        var entry = result.Options!.DhChap.Hosts.Single();
        Assert.Multiple(() =>
        {
            Assert.That(entry.HostNqn, Is.Null);
            Assert.That(entry.SubsystemNqn, Is.EqualTo("nqn.2026-01.io.example:quick"));
            Assert.That(entry.Secret, Is.EqualTo(HostSecret));
            Assert.That(entry.ControllerSecret, Is.EqualTo(ControllerSecret));
            Assert.That(entry.ToString(), Does.Not.Contain("AAECAwQF"), "secrets never reach a log line");
        });
        var auth = TargetBuilder.BuildAuthentication(result.Options.DhChap);
        Assert.That(auth.Find("nqn.2026-01.io.example:quick", Host)?.ControllerSecret, Is.Not.Null);
        Assert.That(auth.Find("nqn.2026-01.io.example:other", Host), Is.Null);
    }

    [Test]
    public void CommandLine_ControllerSecretAlone_IsRefused()
    {
        var result = TargetCommandLine.Parse(["--dhchap-ctrl-secret", ControllerSecret], s_noEnvironment, _directory);
        Assert.That(result.Errors, Does.Contain("--dhchap-ctrl-secret: needs --dhchap-secret (the host secret)"));
    }

    [Test]
    public void CommandLine_BadSecret_NamesTheKeyWithoutEchoingIt()
    {
        var result = TargetCommandLine.Parse(["--dhchap-secret", "DHHC-1:00:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh+KfiaS:"], s_noEnvironment, _directory);
        Assert.That(result.Errors, Has.One.StartsWith("Target:DhChap:Hosts:0:Secret: CRC mismatch"));
        Assert.That(string.Join("\n", result.Errors), Does.Not.Contain("AAECAwQF"));
    }

    [Test]
    public void Configuration_PerHostEntries_AndNamesAreChecked()
    {
        var errors = ConfigurationTestKit.Errors(
            ("Target:DhChap:Hosts:0:HostNqn", Host),
            ("Target:DhChap:Hosts:0:Secret", HostSecret),
            ("Target:DhChap:Hosts:0:ControllerSecret", HostSecret),
            ("Target:DhChap:Hosts:0:Hashes:0", "md5"),
            ("Target:DhChap:Hosts:0:DhGroups:0", "modp2048"),
            ("Target:DhChap:Hosts:1:HostNqn", "not an nqn"),
            ("Target:DhChap:Hosts:1:SubsystemNqn", "nqn.2026-01.io.example:nowhere"));
        Assert.Multiple(() =>
        {
            Assert.That(errors, Does.Contain("Target:DhChap:Hosts:0:ControllerSecret: must differ from the host secret"));
            Assert.That(errors, Does.Contain("Target:DhChap:Hosts:0:Hashes: must be sha256, sha384 or sha512 (was 'md5')"));
            Assert.That(errors, Has.One.StartsWith("Target:DhChap:Hosts:0:DhGroups: must be null, ffdhe2048"));
            Assert.That(errors, Has.One.StartsWith("Target:DhChap:Hosts:1: set Secret"));
            Assert.That(errors, Has.One.StartsWith("Target:DhChap:Hosts:1:HostNqn:"));
            Assert.That(errors, Has.One.StartsWith("Target:DhChap:Hosts:1:SubsystemNqn: must name a configured subsystem"));
        });
    }

    [Test]
    public void Configuration_SecretFiles_MustBeReadableOnlyByTheServiceUser()
    {
        if (OperatingSystem.IsWindows())
        {
            Assert.Ignore("Unix file modes only");
            return;
        }

        string file = Path.Combine(_directory, "host.key");
        File.WriteAllText(file, HostSecret + "\n");
        File.SetUnixFileMode(file, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
        var errors = ConfigurationTestKit.Errors(("Target:DhChap:Hosts:0:SecretFile", file));
        Assert.That(errors, Has.One.StartsWith($"Target:DhChap:Hosts:0:SecretFile: '{file}' is accessible to group or others (mode 644)"));

        File.SetUnixFileMode(file, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        var options = ConfigurationTestKit.Load(("Target:DhChap:Hosts:0:SecretFile", file), ("Target:DhChap:Hosts:0:Hashes:0", "sha384"),
            ("Target:DhChap:Hosts:0:DhGroups:0", "ffdhe4096"));
        var keys = TargetBuilder.BuildAuthentication(options.DhChap).Find(TargetOptions.DefaultSubsystemNqn, Host)!;
        Assert.Multiple(() =>
        {
            Assert.That(keys.HostSecret.ToInterchange(), Is.EqualTo(HostSecret));
            Assert.That(keys.Hashes, Is.EqualTo(new[] { DhChapHashId.Sha384 }));
            Assert.That(keys.Groups, Is.EqualTo(new[] { DhChapGroupId.Ffdhe4096 }));
        });
    }

    [Test]
    public void Find_MostSpecificEntryWins()
    {
        var any = new DhChapHostKeys(NvmeMptls.Crypto.Auth.DhChapSecret.Parse(HostSecret));
        var forHost = new DhChapHostKeys(NvmeMptls.Crypto.Auth.DhChapSecret.Parse(ControllerSecret));
        var auth = new HostAuthentication([new(null, null, any), new(Host, null, forHost)]);
        Assert.That(auth.Find("nqn.x:s", Host), Is.SameAs(forHost));
        Assert.That(auth.Find("nqn.x:s", "nqn.x:other-host"), Is.SameAs(any));
        Assert.That(HostAuthentication.None.Find("nqn.x:s", Host), Is.Null);
    }

    [Test]
    public void MetricLabels_CoverEveryOutcome()
    {
        var labels = Enum.GetValues<AuthenticationOutcome>().Select(o => ScrapeSampler.AuthenticationLabels(o)).ToArray();
        Assert.That(labels.Distinct().Count(), Is.EqualTo(labels.Length));
        Assert.That(labels, Does.Contain(("success", "")));
        Assert.That(labels, Does.Contain(("failure", "timeout")));
        Assert.That(labels, Does.Contain(("failure", "incorrect_message")));
    }
}
