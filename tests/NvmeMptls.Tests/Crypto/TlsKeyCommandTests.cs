using NvmeMptls.Cli.Commands;

namespace NvmeMptls.Tests.Crypto;

public sealed class TlsKeyCommandTests
{
    [Test]
    public void CheckTlsKey_NvmeCliKey_PrintsValidLikeNvmeCli()
    {
        var (rc, output, _) = Run(TlsKeyCommands.CheckTlsKey, "--key=NVMeTLSkey-1:01:Yck36G/IuX6rtwLZJbk3hgku7eXhtnJ7nWuIxA4cF9HGWclh:");
        Assert.That(rc, Is.Zero);
        Assert.That(output, Is.EqualTo("Key is valid (HMAC 1, length 32, CRC 61c959c6)\n"));
    }

    [Test]
    public void CheckTlsKey_AlteredKey_PrintsCrcMismatchAndFails()
    {
        var (rc, _, error) = Run(TlsKeyCommands.CheckTlsKey, "-d", "NVMeTLSkey-1:01:VRLbtnN9AQb2WXW3c9+wEf/DRLz0QuLdbYvEhwtdWwNf9LrA:");
        Assert.That(rc, Is.EqualTo(1));
        Assert.That(error, Is.EqualTo("CRC mismatch (key c0baf45f, crc d9baf45f)\n"));
    }

    [Test]
    public void CheckTlsKey_WithNqnsCompat_PrintsIdentityAndTlsPsk()
    {
        var (rc, output, _) = Run(TlsKeyCommands.CheckTlsKey, "-d", "NVMeTLSkey-1:01:VRLbtnN9AQb2WXW3c9+wEf/DRLz0QuLdbYvEhwtdWwNf9LrZ:",
            "--hostnqn", "nqn.psk-test-host", "--subsysnqn", "nqn.psk-test-subsys", "--identity", "1", "--compat");
        Assert.That(rc, Is.Zero);
        Assert.That(output, Does.Contain("identity: NVMe1R01 nqn.psk-test-host nqn.psk-test-subsys 66GuqV08TsAGII39teWUfwQwizjv06Jy8jOcX3NAAzM=\n"));
        Assert.That(output, Does.Match("tls-psk: [0-9a-f]{64}\n"));
    }

    [Test]
    public void GenTlsKey_FixedSecretWithNqns_PrintsInterchangeIdentityAndTlsPsk()
    {
        var (rc, output, _) = Run(TlsKeyCommands.GenTlsKey, "--hmac=1", "--secret", "61c937e86fc8b97eabb702d925b93786092eede5e1b6727b9d6b88c40e1c17d1",
            "--hostnqn", "nqn.2014-08.org.nvmexpress:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6", "--subsysnqn", "nqn.2024-01.io.example:subsys1");
        Assert.That(rc, Is.Zero);
        string[] lines = output.TrimEnd('\n').Split('\n');
        Assert.Multiple(() =>
        {
            Assert.That(lines[0], Is.EqualTo("NVMeTLSkey-1:01:Yck36G/IuX6rtwLZJbk3hgku7eXhtnJ7nWuIxA4cF9HGWclh:"));
            Assert.That(lines[1], Does.EndWith(" 7+iYxFfWbu+31zkx67b0dmZeoxSw8GXTmuT8Spj2YQ4="));
            Assert.That(lines[2], Is.EqualTo("tls-psk: 2ffc95e671505c1270d703c88a9ca213f65c0b03d6f62828f83fe89fd202cd18"));
        });
    }

    [Test]
    public void GenTlsKey_Hmac2_PrintsRandom48ByteKey()
    {
        var (rc, output, _) = Run(TlsKeyCommands.GenTlsKey, "--hmac=2");
        Assert.That(rc, Is.Zero);
        Assert.That(output, Does.Match(@"^NVMeTLSkey-1:02:[A-Za-z0-9+/=]{72}:\n$"));
    }

    [Test]
    public void GenTlsKey_BadHmac_Fails()
    {
        var (rc, _, error) = Run(TlsKeyCommands.GenTlsKey, "--hmac=3");
        Assert.That(rc, Is.Not.Zero);
        Assert.That(error, Does.Contain("HMAC"));
    }

    private static (int Rc, string Out, string Err) Run(Func<string[], TextWriter, TextWriter, int> command, params string[] args)
    {
        using var stdout = new StringWriter { NewLine = "\n" };
        using var stderr = new StringWriter { NewLine = "\n" };
        int rc = command(args, stdout, stderr);
        return (rc, stdout.ToString(), stderr.ToString());
    }
}
