using System.Globalization;
using System.Text.Json;
using NvmeMptls.IntegrationTests.TestKit;

namespace NvmeMptls.IntegrationTests.Interop;

/// <summary>
/// Our CLI against SPDK v24.09's nvmf_tgt (issue 15): discover, id-ctrl, write/read/compare and bench with verify,
/// plain, with header and data digests, and over TLS (version 0 identity). Also what a refused version 1 identity
/// looks like to the user. Skipped unless <see cref="SpdkBuild.Variable"/> names an SPDK build.
/// </summary>
[TestFixture]
[NonParallelizable]
[Category("Interop")]
public sealed class SpdkTargetTests
{
    private SpdkNvmfTarget? _spdk;
    private DirectoryInfo _dir = null!;
    private string _cli = "";

    private SpdkNvmfTarget Spdk => _spdk ?? throw new InvalidOperationException("nvmf_tgt not started");

    [OneTimeSetUp]
    public async Task StartNvmfTgt()
    {
        var build = SpdkBuild.RequireOrIgnore();
        _cli = Path.Combine(TargetRunner.RepositoryRoot(), "src", "Initiator", "Cli", "bin", "Release", "net10.0", "nvme-mptls.dll");
        if (!File.Exists(_cli))
        {
            Assert.Ignore($"{_cli} is missing: build the solution in Release first");
        }

        _dir = Directory.CreateTempSubdirectory("spdk-target-");
        _spdk = await SpdkNvmfTarget.StartAsync(build, SpdkHostTests.HostNqn, SpdkHostTests.WritePskFile(_dir, SpdkHostTests.Key));
    }

    [OneTimeTearDown]
    public void StopNvmfTgt()
    {
        _spdk?.Dispose();
        _dir?.Delete(recursive: true);
    }

    private static string P(int port) => port.ToString(CultureInfo.InvariantCulture);

    /// <summary>Connection options for <paramref name="mode"/>; the TLS modes name identity version 0 explicitly.</summary>
    private string[] Connect(string mode, bool discovery = false)
    {
        var tls = mode == "tls";
        var port = (discovery, tls) switch
        {
            (true, true) => Spdk.TlsDiscoveryPort,
            (true, false) => Spdk.DiscoveryPort,
            (false, true) => Spdk.TlsPort,
            _ => Spdk.Port,
        };
        var args = new List<string> { "-a", "127.0.0.1", "--trsvcid", P(port), "-q", SpdkHostTests.HostNqn, "--multipath", "disabled" };
        if (!discovery)
        {
            args.AddRange(["-n", SpdkNvmfTarget.SubsystemNqn]);
        }

        if (mode == "digests")
        {
            args.AddRange(["-g", "-G"]);
        }

        if (tls)
        {
            args.AddRange(["--tls-key", SpdkHostTests.Key, "--tls-identity-version", "0"]);
        }

        return [.. args];
    }

    private async Task<ToolRunner.Result> Cli(params string[] args)
    {
        var r = await ToolRunner.RunAsync("dotnet", [_cli, .. args], TimeSpan.FromMinutes(3));
        await TestContext.Out.WriteLineAsync($"$ nvme-mptls {string.Join(' ', args)}\n{r}");
        return r;
    }

    [TestCase("plain")]
    [TestCase("digests")]
    [TestCase("tls")]
    public async Task Discover_ListsSubsystemOnBothPorts(string mode)
    {
        var r = await Cli(["discover", .. Connect(mode, discovery: true), "-o", "json"]);
        Assert.That(r.ExitCode, Is.Zero, r.ToString());
        using var json = JsonDocument.Parse(r.Stdout);
        var subsystems = json.RootElement.GetProperty("records").EnumerateArray()
            .Where(e => e.GetProperty("subnqn").GetString() == SpdkNvmfTarget.SubsystemNqn)
            .Select(e => e.GetProperty("trsvcid").GetString()).ToList();
        Assert.That(subsystems, Is.EquivalentTo(new[] { P(Spdk.Port), P(Spdk.TlsPort) }));
    }

    [TestCase("plain")]
    [TestCase("digests")]
    [TestCase("tls")]
    public async Task IdCtrl_ShowsSpdkController(string mode)
    {
        var r = await Cli(["id-ctrl", .. Connect(mode), "-o", "json"]);
        Assert.That(r.ExitCode, Is.Zero, r.ToString());
        using var json = JsonDocument.Parse(r.Stdout);
        Assert.That(json.RootElement.GetProperty("subnqn").GetString(), Is.EqualTo(SpdkNvmfTarget.SubsystemNqn));
        Assert.That(json.RootElement.GetProperty("mn").GetString(), Does.StartWith("SPDK"));
        Assert.That(json.RootElement.GetProperty("ieee").GetInt32(), Is.EqualTo(0x5CD2E4), "SPDK reports Intel's OUI");
        var text = await Cli(["id-ctrl", .. Connect(mode)]);
        Assert.That(text.Stdout, Does.Contain("ieee      : 5cd2e4"));
    }

    [TestCase("plain")]
    [TestCase("digests")]
    [TestCase("tls")]
    public async Task WriteReadCompare_64KiB_RoundTrips(string mode)
    {
        var data = new byte[65536];
        new Random(15 + mode.Length).NextBytes(data);
        var input = Path.Combine(_dir.FullName, $"in-{mode}.bin");
        var output = Path.Combine(_dir.FullName, $"out-{mode}.bin");
        await File.WriteAllBytesAsync(input, data);
        var lba = P(1000 + (mode.Length * 200));

        var w = await Cli(["write", .. Connect(mode), "-s", lba, "-c", "127", "-z", "65536", "-d", input]);
        Assert.That(w.ExitCode, Is.Zero, w.ToString());
        var r = await Cli(["read", .. Connect(mode), "-s", lba, "-c", "127", "-z", "65536", "-d", output]);
        Assert.That(r.ExitCode, Is.Zero, r.ToString());
        Assert.That(await File.ReadAllBytesAsync(output), Is.EqualTo(data));
    }

    [TestCase("plain")]
    [TestCase("digests")]
    [TestCase("tls")]
    public async Task BenchWithVerify_NoErrors(string mode)
    {
        var r = await Cli(["bench", .. Connect(mode), "--name=spdk", "--rw=randrw", "--bs=4k", "--iodepth=8", "--size=8m", "--verify=crc32c"]);
        Assert.That(r.ExitCode, Is.Zero, r.ToString());
    }

    [Test]
    public async Task Tls_DefaultIdentityVersion_RetriesOnceWithV0AndSaysSo()
    {
        var args = Connect("tls").Where(a => a is not ("--tls-identity-version" or "0")).ToArray();
        var r = await Cli(["id-ctrl", .. args]);
        Assert.That(r.ExitCode, Is.Zero, r.ToString());
        Assert.That(r.Stderr, Does.Contain("refused a version 1 PSK identity").And.Contain("retrying once with a version 0 identity"));
    }

    [Test]
    public async Task Tls_ExplicitV1_ErrorNamesVersionAndOption()
    {
        var args = Connect("tls").Select(a => a == "0" ? "1" : a).ToArray();
        var r = await Cli(["id-ctrl", .. args]);
        Assert.That(r.ExitCode, Is.EqualTo(1), r.ToString());
        Assert.That(r.Stderr, Does.Contain("version 1 PSK identity").And.Contain("--tls-identity-version 0"));
    }
}
