using NvmeMptls.Cli.Commands;

namespace NvmeMptls.Tests.Crypto;

/// <summary>gen-dhchap-key / check-dhchap-key against the output of nvme-cli 2.3 run here (reference §5).</summary>
public sealed class DhChapKeyCommandTests
{
    private const string Nqn = "nqn.2014-08.org.nvmexpress:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6";

    // nvme gen-dhchap-key --secret=000102…1e1f --nqn=<Nqn> --hmac=N (nvme-cli 2.3)
    [TestCase("0", "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f", "DHHC-1:00:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh+KfiaR:")]
    [TestCase("1", "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f", "DHHC-1:01:jWiK0NeSweQjGFEI9c4bjHV792NxG/KQG1mAfCQAiRlmCljm:")]
    public void GenDhChapKey_FixedSecret_MatchesNvmeCli(string hmac, string secret, string expected)
    {
        var (rc, output, _) = Run(DhChapKeyCommands.GenDhChapKey, $"--hmac={hmac}", "--secret", secret, "--nqn", Nqn);
        Assert.That(rc, Is.Zero);
        Assert.That(output, Is.EqualTo(expected + "\n"));
    }

    [TestCase("2", 83)]
    [TestCase("3", 103)]
    public void GenDhChapKey_Random_HasTheHashLengthAndChecks(string hmac, int characters)
    {
        var (rc, output, _) = Run(DhChapKeyCommands.GenDhChapKey, "-m", hmac, "-n", Nqn);
        Assert.That(rc, Is.Zero);
        string key = output.TrimEnd('\n');
        Assert.That(key, Has.Length.EqualTo(characters));
        Assert.That(Run(DhChapKeyCommands.CheckDhChapKey, "--key", key).Rc, Is.Zero);
    }

    [Test]
    public void GenDhChapKey_LengthNotTheHashes_IsRefusedLikeNvmeCli()
    {
        var (rc, _, error) = Run(DhChapKeyCommands.GenDhChapKey, "--hmac=1", "--key-length=48", "--nqn=nqn.x:y");
        Assert.That(rc, Is.EqualTo(22));
        Assert.That(error, Is.EqualTo("Invalid key length 48 for SHA(256)\n"));
    }

    // nvme check-dhchap-key output (nvme-cli 2.3).
    [TestCase("DHHC-1:01:jWiK0NeSweQjGFEI9c4bjHV792NxG/KQG1mAfCQAiRlmCljm:", "Key is valid (HMAC 1, length 32, CRC e6580a66)")]
    [TestCase("DHHC-1:00:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4vcSEgBQ==:", "Key is valid (HMAC 0, length 48, CRC 05202171)")]
    public void CheckDhChapKey_ValidKey_PrintsLikeNvmeCli(string key, string expected)
    {
        var (rc, output, _) = Run(DhChapKeyCommands.CheckDhChapKey, $"--key={key}");
        Assert.That(rc, Is.Zero);
        Assert.That(output, Is.EqualTo(expected + "\n"));
    }

    [TestCase("DHHC-1:01:jWiK0NeSweQjGFEI9c4bjHV792NxG/KQG1mAfCQAiRlmCljn:", "CRC mismatch (key e7580a66, crc e6580a66)")]
    [TestCase("DHHC-1:01:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4vcSEgBQ==:", "Invalid key length for SHA(256)")]
    public void CheckDhChapKey_BadKey_FailsLikeNvmeCli(string key, string expected)
    {
        var (rc, _, error) = Run(DhChapKeyCommands.CheckDhChapKey, "-k", key);
        Assert.That(rc, Is.EqualTo(1));
        Assert.That(error, Is.EqualTo(expected + "\n"));
    }

    private static (int Rc, string Out, string Err) Run(Func<string[], TextWriter, TextWriter, int> command, params string[] args)
    {
        using var stdout = new StringWriter { NewLine = "\n" };
        using var stderr = new StringWriter { NewLine = "\n" };
        int rc = command(args, stdout, stderr);
        return (rc, stdout.ToString(), stderr.ToString());
    }
}

/// <summary>The connect-type verbs take nvme-cli's --dhchap-secret / --dhchap-ctrl-secret (-C).</summary>
public sealed class DhChapConnectOptionTests
{
    [Test]
    public void FabricsOptions_DhChapSecrets_ReachTheControllerOptions()
    {
        const string host = "DHHC-1:01:jWiK0NeSweQjGFEI9c4bjHV792NxG/KQG1mAfCQAiRlmCljm:";
        const string controller = "DHHC-1:00:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh+KfiaR:";
        var line = CommandLine.Parse(["-a", "127.0.0.1", "-n", "nqn.2026-01.io.example:s", "--dhchap-secret", host, "-C", controller], FabricsOptions.Common());
        var options = FabricsOptions.Build(line, FabricsOptions.DefaultPort);
        Assert.That(options.DhChapSecret, Is.EqualTo(host));
        Assert.That(options.DhChapControllerSecret, Is.EqualTo(controller));
        Assert.DoesNotThrow(options.Validate);
    }

    [Test]
    public void FabricsOptions_DhChapSecretFile_IsRead()
    {
        string file = Path.GetTempFileName();
        try
        {
            File.WriteAllText(file, "DHHC-1:00:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh+KfiaR:\n");
            var line = CommandLine.Parse(["-a", "127.0.0.1", "-n", "nqn.2026-01.io.example:s", "--dhchap-secret", file], FabricsOptions.Common());
            Assert.That(FabricsOptions.Build(line, FabricsOptions.DefaultPort).DhChapSecret, Is.EqualTo("DHHC-1:00:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh+KfiaR:"));
        }
        finally
        {
            File.Delete(file);
        }
    }
}
