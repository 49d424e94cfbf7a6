using System.Text;
using System.Text.Json;
using NvmeMptls.Cli;
using NvmeMptls.Cli.Commands;

namespace NvmeMptls.Tests.Initiator;

/// <summary>CLI verbs end to end against the fake controller (the factory seam replaces TCP).</summary>
[NonParallelizable]
public sealed class CliAgainstFakeTests
{
    private FakeController _fake = null!;

    [SetUp]
    public void UseFake()
    {
        _fake = new FakeController();
        Session.ConnectionFactory = _fake.Factory;
    }

    [TearDown]
    public void UseTcp() => Session.ConnectionFactory = null;

    private static async Task<(int Rc, string Out, string Error, byte[] Binary)> Run(byte[]? stdin, params string[] args)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        using var binary = new MemoryStream();
        var rc = await Program.RunAsync(args, output, error, new MemoryStream(stdin ?? []), binary, CancellationToken.None);
        return (rc, output.ToString(), error.ToString(), binary.ToArray());
    }

    [Test]
    public async Task IdCtrl_Json_UsesNvmeCliFieldNames()
    {
        var (rc, _, error, json) = await Run(null, "id-ctrl", "-a", "127.0.0.1", "-n", FakeController.Nqn, "-o", "json");

        Assert.That(rc, Is.Zero, error);
        using var doc = JsonDocument.Parse(json);
        var root = doc.RootElement;
        Assert.That(root.GetProperty("subnqn").GetString(), Is.EqualTo(FakeController.Nqn));
        Assert.That(root.GetProperty("mn").GetString(), Is.EqualTo("fake"));
        Assert.That(root.GetProperty("maxcmd").GetInt32(), Is.EqualTo(128));
        foreach (var field in new[] { "vid", "sn", "fr", "cntlid", "ver", "mdts", "sgls", "ioccsz", "iorcsz", "nn", "oncs", "vwc", "kas" })
        {
            Assert.That(root.TryGetProperty(field, out _), Is.True, field);
        }
    }

    [Test]
    public async Task IdCtrl_Ieee_PrintsSixHexDigitsLikeNvmeCliAndANumberInJson()
    {
        var normal = await Run(null, "id-ctrl", "-a", "127.0.0.1", "-n", FakeController.Nqn);
        var (_, _, _, json) = await Run(null, "id-ctrl", "-a", "127.0.0.1", "-n", FakeController.Nqn, "-o", "json");

        Assert.That(normal.Rc, Is.Zero, normal.Error);
        Assert.That(normal.Out, Does.Contain("ieee      : 0a1b2c" + Environment.NewLine));
        using var doc = JsonDocument.Parse(json);
        Assert.That(doc.RootElement.GetProperty("ieee").GetInt32(), Is.EqualTo(0x0A1B2C));
    }

    [Test]
    public async Task WriteThenRead_ThroughStdinAndStdout_RoundTrips()
    {
        var data = InitiatorTestHelpers.Pattern(4096, 21);

        var write = await Run(data, "write", "-a", "127.0.0.1", "--trsvcid", "4420", "-n", FakeController.Nqn, "-s", "10", "-c", "7", "-z", "4096");
        var read = await Run(null, "read", "-a", "127.0.0.1", "--trsvcid", "4420", "-n", FakeController.Nqn, "-s", "10", "-c", "7", "-z", "4096");

        Assert.That(write.Rc, Is.Zero, write.Error);
        Assert.That(read.Rc, Is.Zero, read.Error);
        Assert.That(read.Binary, Is.EqualTo(data));
        Assert.That(_fake.Storage.AsSpan(10 * 512, 4096).SequenceEqual(data), Is.True);
    }

    [Test]
    public async Task ListNs_Json_ListsNamespaceOne()
    {
        var (rc, _, error, json) = await Run(null, "list-ns", "-a", "127.0.0.1", "-n", FakeController.Nqn, "-o", "json");

        Assert.That(rc, Is.Zero, error);
        Assert.That(Encoding.UTF8.GetString(json), Does.Contain("\"nsid\": 1"));
    }

    [Test]
    public async Task Read_InactiveNamespace_PrintsTheDecodedStatusAndExitsOne()
    {
        var (rc, _, error, _) = await Run(null, "read", "-a", "127.0.0.1", "--trsvcid", "4420", "-n", FakeController.Nqn, "-N", "5");

        Assert.That(rc, Is.EqualTo(1));
        Assert.That(error, Does.Contain("Invalid Namespace or Format").And.Contain("namespace 5"));
    }
}
