using System.Text.RegularExpressions;
using NvmeMptls.IntegrationTests.TestKit;

namespace NvmeMptls.IntegrationTests.Interop;

/// <summary>
/// SPDK v24.09's host tools against our target (issue 15): spdk_nvme_identify on the I/O and the discovery controller
/// must see no failed admin command and an empty error log; spdk_nvme_perf must run plain, with header and data
/// digests, and over TLS with a version 0 identity (the only form SPDK v24.09 offers). Skipped unless
/// <see cref="SpdkBuild.Variable"/> names an SPDK build.
/// </summary>
[TestFixture]
[NonParallelizable]
[Category("Interop")]
public sealed partial class SpdkHostTests
{
    /// <summary>The reference's §4.8 test key (SHA-256 retained PSK).</summary>
    internal const string Key = "NVMeTLSkey-1:01:VRLbtnN9AQb2WXW3c9+wEf/DRLz0QuLdbYvEhwtdWwNf9LrZ:";
    internal const string HostNqn = "nqn.2014-08.org.nvmexpress:uuid:3a5b1c9e-7d2f-4e6a-9b8c-0d1e2f3a4b5c";
    private const string Nqn = "nqn.2026-01.io.nvmemptls:default";

    private SpdkBuild _spdk = null!;
    private DirectoryInfo _dir = null!;
    private string _pskFile = "";

    [OneTimeSetUp]
    public void FindSpdk()
    {
        _spdk = SpdkBuild.RequireOrIgnore();
        _dir = Directory.CreateTempSubdirectory("spdk-host-");
        _pskFile = WritePskFile(_dir, Key);
    }

    [OneTimeTearDown]
    public void RemoveFiles() => _dir?.Delete(recursive: true);

    /// <summary>SPDK's file keyring refuses key files other users can read.</summary>
    internal static string WritePskFile(DirectoryInfo dir, string key)
    {
        var path = Path.Combine(dir.FullName, "psk.txt");
        File.WriteAllText(path, key);
        if (OperatingSystem.IsLinux())
        {
            File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }

        return path;
    }

    [Test]
    public async Task Identify_IoController_NoFailedAdminCommandAndEmptyErrorLog()
    {
        using var huge = await SpdkHugePages.ReserveOrIgnoreAsync(64);
        using var target = await TargetRunner.StartAsync("--memory-ns", "64MiB");
        var r = await _spdk.RunAsync("spdk_nvme_identify", ["-d", "128", "-r", SpdkBuild.TransportId(target.Port, Nqn)], TimeSpan.FromMinutes(2));
        await TestContext.Out.WriteLineAsync(r.Stdout);

        Assert.That(r.ExitCode, Is.Zero, r.ToString());
        Assert.That(FailedLines(r.Stdout), Is.Empty, "failed admin commands");
        Assert.That(ErrorLogEntries().Matches(r.Stdout), Is.Empty, "error log entries");
        Assert.That(r.Stdout, Does.Contain("Arbitration Burst:").And.Contain("Current Power State:").And.Contain("Temperature Threshold:")
            .And.Contain("Error Recovery Timeout:").And.Contain("Commands Supported and Effects"));
        Assert.That(target.ProblemLines(), Is.Empty);
    }

    [Test]
    public async Task Identify_DiscoveryController_ClaimsOnlyServedLogsAndNoFailure()
    {
        using var huge = await SpdkHugePages.ReserveOrIgnoreAsync(64);
        using var target = await TargetRunner.StartAsync("--memory-ns", "64MiB");
        var r = await _spdk.RunAsync("spdk_nvme_identify", ["-d", "128", "-r", SpdkBuild.TransportId(target.DiscoveryPort)], TimeSpan.FromMinutes(2));
        await TestContext.Out.WriteLineAsync(r.Stdout);

        Assert.That(r.ExitCode, Is.Zero, r.ToString());
        Assert.That(FailedLines(r.Stdout), Is.Empty, "failed admin commands");
        Assert.That(ErrorLogEntries().Matches(r.Stdout), Is.Empty, "error log entries");
        Assert.That(r.Stdout, Does.Match(@"Command Effects Log Page:\s+Not Supported").And.Match(@"Per-Namespace SMART Log:\s+No"));
        Assert.That(r.Stdout, Does.Contain(Nqn), "the discovery log lists our subsystem");
    }

    [TestCase("plain")]
    [TestCase("digests")]
    [TestCase("tls")]
    public async Task Perf_RandomReadWrite_CompletesWithoutErrors(string mode)
    {
        string[] targetArgs = mode == "tls" ? ["--memory-ns", "64MiB", "--tls", "required", "--tls-key", Key] : ["--memory-ns", "64MiB"];
        using var target = await TargetRunner.StartAsync(targetArgs);
        var args = new List<string> { "--no-huge", "-s", "512", "-q", "16", "-o", "4096", "-w", "randrw", "-M", "50", "-t", "3" };
        args.AddRange(mode switch
        {
            "digests" => ["-H", "-I"],
            "tls" => ["-S", "ssl", "--psk-path", _pskFile],
            _ => [],
        });
        args.AddRange(["-r", SpdkBuild.TransportId(target.Port, Nqn, HostNqn)]);
        var r = await _spdk.RunAsync("spdk_nvme_perf", args, TimeSpan.FromMinutes(2));
        await TestContext.Out.WriteLineAsync(r.Stdout);

        Assert.That(r.ExitCode, Is.Zero, r.ToString());
        Assert.That(r.Stdout, Does.Match(@"Total\s+:\s+[0-9.]+"));
        Assert.That(r.Stdout + r.Stderr, Does.Not.Contain("failed").IgnoreCase.And.Not.Contain("*ERROR*"), r.ToString());
        Assert.That(target.ProblemLines().Where(l => l.Contains(" fail: ", StringComparison.Ordinal) || l.Contains(" crit: ", StringComparison.Ordinal)), Is.Empty);
        if (mode == "tls")
        {
            // SPDK offers a version 0 identity; the target (no --tls-v0-form) picked the form by the PSK binder.
            Assert.That(target.Log, Does.Match(@"TLS PSK form v0-(rfc|compat) verified by the binder for identity 'NVMe0R01 "));
        }
    }

    private static List<string> FailedLines(string output) =>
        output.Split('\n').Where(l => l.Contains("failed", StringComparison.OrdinalIgnoreCase)).ToList();

    /// <summary>spdk_nvme_identify prints one "Entry: N" block per non-empty Error Information log entry.</summary>
    [GeneratedRegex(@"^Entry: \d+$", RegexOptions.Multiline)]
    private static partial Regex ErrorLogEntries();
}
