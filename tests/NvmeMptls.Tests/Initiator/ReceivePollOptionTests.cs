using NvmeMptls.Initiator;
using NvmeMptls.Cli.Commands;

namespace NvmeMptls.Tests.Initiator;

/// <summary>The connect-type verbs take --poll-us (busy-polling of each I/O queue's socket, <see cref="NvmeControllerOptions.ReceivePoll"/>).</summary>
public sealed class ReceivePollOptionTests
{
    private static NvmeControllerOptions Build(params string[] extra)
    {
        var line = CommandLine.Parse(["-a", "127.0.0.1", "-n", "nqn.2026-01.io.example:s", .. extra], FabricsOptions.Common());
        return FabricsOptions.Build(line, FabricsOptions.DefaultPort);
    }

    [Test]
    public void PollUs_ReachesTheControllerOptions_OffByDefault()
    {
        Assert.That(Build().ReceivePoll, Is.EqualTo(TimeSpan.Zero));
        Assert.That(Build("--poll-us", "50").ReceivePoll, Is.EqualTo(TimeSpan.FromMicroseconds(50)));
    }

    [TestCase("-5")]
    [TestCase("20000")]
    [TestCase("soon")]
    public void PollUs_OutOfRange_IsAUsageErrorNamingTheFlag(string value)
    {
        Assert.That(() => Build("--poll-us", value), Throws.InstanceOf<UsageException>().With.Message.Contains("poll-us"));
    }

    [Test]
    public void Options_ReceivePollOutOfRange_NamesTheSetting()
    {
        var options = NvmeControllerOptions.Default with { TargetAddress = "127.0.0.1", SubsystemNqn = "nqn.2026-01.io.example:s", ReceivePoll = TimeSpan.FromMilliseconds(11) };
        Assert.That(options.Validate, Throws.ArgumentException.With.Message.Contains("ReceivePoll"));
    }
}
