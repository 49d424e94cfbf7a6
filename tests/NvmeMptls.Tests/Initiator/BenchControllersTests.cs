using NvmeMptls.Cli.Commands;
using NvmeMptls.Initiator;

namespace NvmeMptls.Tests.Initiator;

/// <summary><c>nvme-mptls bench --controller ADDR[:PORT]</c>: what is taken out of the arguments and how it parses.</summary>
public sealed class BenchControllersTests
{
    [Test]
    public void Take_RemovesEveryControllerOption_BothSpellings_AndKeepsTheRestInOrder()
    {
        var (controllers, rest) = BenchControllers.Take(["-a", "127.0.0.1", "--controller", "198.18.0.2:4421", "--rw=read", "--controller=[fd00::2]:4422", "--bs", "4k"]);
        Assert.That(controllers, Is.EqualTo(new[] { "198.18.0.2:4421", "[fd00::2]:4422" }));
        Assert.That(rest, Is.EqualTo(new[] { "-a", "127.0.0.1", "--rw=read", "--bs", "4k" }));
    }

    [Test]
    public void Take_ControllerWithoutValue_NamesTheOption()
    {
        var ex = Assert.Throws<UsageException>(() => BenchControllers.Take(["--controller"]));
        Assert.That(ex!.Message, Does.Contain("--controller"));
    }

    [TestCase("198.18.0.2:4421", "198.18.0.2", 4421)]
    [TestCase("198.18.0.2", "198.18.0.2", 4420)]
    [TestCase("[fd00::2]:4422", "fd00::2", 4422)]
    [TestCase("[fd00::2]", "fd00::2", 4420)]
    [TestCase("fd00::2", "fd00::2", 4420)]
    [TestCase("gw-b.example:4430", "gw-b.example", 4430)]
    public void Split_AddressAndPort(string value, string address, int port)
    {
        Assert.That(BenchControllers.Split(value, 4420), Is.EqualTo((address, port)));
    }

    [TestCase("198.18.0.2:0")]
    [TestCase("198.18.0.2:65536")]
    [TestCase("198.18.0.2:x")]
    [TestCase(":4420")]
    [TestCase("[fd00::2")]
    [TestCase("[fd00::2]x")]
    public void Split_BadValue_IsAUsageErrorNamingTheOption(string value)
    {
        var ex = Assert.Throws<UsageException>(() => BenchControllers.Split(value, 4420));
        Assert.That(ex!.Message, Does.StartWith("--controller " + value));
    }

    [Test]
    public void Parse_KeepsEveryOtherOptionOfTheFirstController()
    {
        var first = NvmeControllerOptions.Default with { TargetAddress = "198.18.0.1", TargetPort = 4420, SubsystemNqn = "nqn.2026-01.io.nvmemptls:x", Tls = true, IoQueueCount = 3 };
        var others = BenchControllers.Parse(["198.18.0.2:4421"], first);
        Assert.That(others, Has.Count.EqualTo(1));
        Assert.That(others[0], Is.EqualTo(first with { TargetAddress = "198.18.0.2", TargetPort = 4421 }));
    }
}
