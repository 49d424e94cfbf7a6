using NvmeMptls.Cli;
using NvmeMptls.Cli.Commands;

namespace NvmeMptls.Tests.Initiator;

/// <summary>The CLI's parser, verb table and error reporting.</summary>
public sealed class CliTests
{
    private static readonly OptionSpec[] Specs =
    [
        new("traddr", 'a', true, ""),
        new("trsvcid", 's', true, ""),
        new("hdr-digest", 'g', false, ""),
    ];

    [Test]
    public void Parse_LongShortInlineAndFlags()
    {
        var line = CommandLine.Parse(["-a", "10.0.0.1", "--trsvcid=4421", "-g", "dev"], Specs);

        Assert.That(line.Get("traddr"), Is.EqualTo("10.0.0.1"));
        Assert.That(line.GetNumber("trsvcid", 4420), Is.EqualTo(4421));
        Assert.That(line.Has("hdr-digest"), Is.True);
        Assert.That(line.Positional, Is.EqualTo(new[] { "dev" }));
    }

    [TestCase("--bogus")]
    [TestCase("-x")]
    [TestCase("--traddr")]
    [TestCase("--hdr-digest=1")]
    public void Parse_Mistakes_AreUsageErrors(string arg) =>
        Assert.Throws<UsageException>(() => CommandLine.Parse([arg], Specs));

    [Test]
    public void VerbTable_HasTheNvmeCliVerbs_AndRejectsDuplicates()
    {
        var table = Program.CreateVerbs();
        foreach (var verb in new[] { "discover", "list-subsys", "id-ctrl", "id-ns", "list-ns", "read", "write", "flush", "get-log", "get-feature", "smart-log", "error-log" })
        {
            Assert.That(table.TryGet(verb, out _), Is.True, verb);
        }

        Assert.Throws<InvalidOperationException>(() => table.Add(IoCommands.Read));
    }

    [Test]
    public void ReadWrite_UseDashSForStartBlock_AndLongTrsvcidForThePort()
    {
        var line = CommandLine.Parse(["-s", "100", "--trsvcid", "4421", "-c", "7"], IoCommands.Read.Options);

        Assert.That(line.GetNumber("start-block", 0), Is.EqualTo(100));
        Assert.That(line.GetNumber("trsvcid", 0), Is.EqualTo(4421));
        Assert.That(line.GetNumber("block-count", 0), Is.EqualTo(7));
    }

    [Test]
    public async Task UnknownVerb_ExitsTwo()
    {
        using var error = new StringWriter();
        var rc = await Program.RunAsync(["frobnicate"], TextWriter.Null, error, Stream.Null, Stream.Null, CancellationToken.None);

        Assert.That(rc, Is.EqualTo(2));
        Assert.That(error.ToString(), Does.Contain("unknown verb 'frobnicate'"));
    }

    [Test]
    public async Task MissingNqn_IsAUsageError()
    {
        using var error = new StringWriter();
        var rc = await Program.RunAsync(["id-ctrl", "-a", "127.0.0.1"], TextWriter.Null, error, Stream.Null, Stream.Null, CancellationToken.None);

        Assert.That(rc, Is.EqualTo(2));
        Assert.That(error.ToString(), Does.Contain("--nqn"));
    }

    [Test]
    public async Task ConnectionRefused_PrintsOneLineNamingTheAddress()
    {
        using var error = new StringWriter();

        // Port 9 on loopback: nothing listens there on a test machine.
        var rc = await Program.RunAsync(["id-ctrl", "-a", "127.0.0.1", "-s", "9", "-n", "nqn.2024-01.io.example:x"], TextWriter.Null, error, Stream.Null, Stream.Null, CancellationToken.None);

        Assert.That(rc, Is.EqualTo(1));
        Assert.That(error.ToString(), Does.Contain("127.0.0.1:9").And.Contain("nvme-mptls id-ctrl:"));
        Assert.That(error.ToString().TrimEnd().Split('\n'), Has.Length.EqualTo(1));
    }

    [Test]
    public async Task VerbHelp_ListsItsOptions()
    {
        using var output = new StringWriter();
        var rc = await Program.RunAsync(["read", "--help"], output, TextWriter.Null, Stream.Null, Stream.Null, CancellationToken.None);

        Assert.That(rc, Is.Zero);
        Assert.That(output.ToString(), Does.Contain("--start-block").And.Contain("--block-count").And.Contain("--trsvcid"));
    }
}
