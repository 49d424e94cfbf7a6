using System.Runtime.InteropServices;
using NvmeMptls.IntegrationTests.TestKit;

namespace NvmeMptls.IntegrationTests.Interop;

/// <summary>
/// Our kTLS path on a kernel that has kTLS. This machine's kernel has no tls module, so the test boots a Debian forky
/// guest (kernel 7.2, with the tls module), puts this .NET runtime and tests/NvmeMptls.KtlsProbe into its initramfs,
/// and runs the probe there. For each suite and each role, our handshake runs and then the kernel seals and opens
/// the records on one side, against our own record layer on the other. 1 MiB goes each way and is compared.
/// The same is done over MPTCP, where the kernel's answer to the tls ULP decides whether kTLS or the fallback runs.
/// </summary>
[TestFixture]
[NonParallelizable]
[Category("Interop")]
public sealed class KernelTlsGuestTests
{
    private const string Suite = "forky";
    private static readonly string[] RuntimeLibraries =
        ["libdl.so.2", "libm.so.6", "libpthread.so.0", "librt.so.1", "libstdc++.so.6", "libssl.so.3", "libcrypto.so.3", "libgcc_s.so.1", "libz.so.1"];

    private const string GuestScript = """
        modprobe tls 2>&1 | head -n 2
        export LD_LIBRARY_PATH=/opt/lib DOTNET_ROOT=/opt/dotnet DOTNET_SYSTEM_GLOBALIZATION_INVARIANT=1 HOME=/tmp DOTNET_CLI_TELEMETRY_OPTOUT=1
        /opt/dotnet/dotnet /opt/probe/nvme-mptls-ktls-probe.dll 2>&1
        """;

    [Test]
    public async Task KernelTls_OnTcp_InteroperatesWithOurRecordLayer_BothRolesBothSuites_MptcpAsTheKernelAllows()
    {
        LinuxVm.IgnoreUnlessAvailable();
        string probe = Path.Combine(TargetRunner.RepositoryRoot(), "tests", "NvmeMptls.KtlsProbe", "bin", "Release", "net10.0");
        if (!File.Exists(Path.Combine(probe, "nvme-mptls-ktls-probe.dll")))
        {
            Assert.Ignore($"{probe}: build the solution in Release first");
        }

        string harness = LinuxVm.Harness();
        string cache = Environment.GetEnvironmentVariable("NVMEVM_CACHE") ?? "/var/tmp/nvme-linux-vm";
        string work = Directory.CreateTempSubdirectory("nvme-ktls-guest.").FullName;
        try
        {
            if (!File.Exists(Path.Combine(cache, $"base-{Suite}", "ready")))
            {
                var (buildRc, buildOut) = await RunAsync(harness, ["--suite", Suite, "build"], null, TimeSpan.FromMinutes(10));
                Assert.That(buildRc, Is.Zero, "building the forky guest cache failed:\n" + Tail(buildOut));
            }

            string root = Path.Combine(work, "root");
            await AddGuestLibrariesAsync(cache, work, Path.Combine(root, "opt", "lib"));
            AddDotnetRuntime(Path.Combine(root, "opt", "dotnet"));
            CopyDirectory(probe, Path.Combine(root, "opt", "probe"));
            string script = Path.Combine(work, "guest.sh");
            await File.WriteAllTextAsync(script, GuestScript + "\n");

            var (rc, output) = await NvmeMptls.IntegrationTests.TestKit.LinuxVm.BootOnceMoreAfterEarlyCrashAsync(
                () => RunAsync(harness, ["--suite", Suite, "--mem", "2048", "--timeout", "280", "run", script],
                    new Dictionary<string, string> { ["NVMEVM_EXTRA_ROOT"] = root }, TimeSpan.FromMinutes(6)),
                r => r.Output.Split('\n'));

            string[] lines = output.Split('\n').Select(l => l.TrimEnd('\r')).Where(l => l.StartsWith("KTLS-", StringComparison.Ordinal)).ToArray();
            TestContext.Out.WriteLine(string.Join('\n', lines));
            Assert.That(rc, Is.Zero, "the guest run failed:\n" + Tail(output));
            Assert.That(lines, Has.Some.StartsWith("KTLS-KERNEL").And.Contains("tls"), "the guest kernel offers the tls ULP");

            string Ulp(string carrier) => lines.Single(l => l.StartsWith($"KTLS-ULP carrier={carrier} ", StringComparison.Ordinal));
            string[] cases = lines.Where(l => l.StartsWith("KTLS-CASE ", StringComparison.Ordinal)).ToArray();
            bool mptcpTakesKtls = Ulp("mptcp").Contains("accepted=yes", StringComparison.Ordinal);
            Assert.Multiple(() =>
            {
                Assert.That(Ulp("tcp"), Does.Contain("accepted=yes"));
                if (!mptcpTakesKtls)
                {
                    Assert.That(Ulp("mptcp"), Does.Contain("does not attach the tls ULP to MPTCP sockets"), "the fallback names the reason");
                }

                Assert.That(cases, Has.Length.EqualTo(8));
                Assert.That(cases, Has.All.Contains("result=pass"));
                Assert.That(cases.Where(c => c.Contains("carrier=tcp", StringComparison.Ordinal)), Has.All.Contains("provider=ktls/tcp/ktls"),
                    "kTLS engaged on every TCP case, as client and as server, with both suites");
                Assert.That(cases.Where(c => c.Contains("carrier=mptcp", StringComparison.Ordinal)),
                    mptcpTakesKtls ? Has.All.Contains("provider=ktls/mptcp/ktls") : Has.All.Contains("provider=tls/mptcp/openssl-evp"),
                    "MPTCP: kTLS exactly when the kernel accepts the tls ULP on an MPTCP socket, else our record layer");
                Assert.That(lines, Has.Some.EqualTo("KTLS-DONE failures=0"));
            });
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }
    }

    /// <summary>The guest's own glibc pieces, libstdc++ and OpenSSL (the .NET runtime's AesGcm) from the suite's packages.</summary>
    private static async Task AddGuestLibrariesAsync(string cache, string work, string destination)
    {
        string apt = Path.Combine(cache, $"apt-{Suite}");
        string debs = Path.Combine(work, "debs");
        Directory.CreateDirectory(debs);
        string[] options =
        [
            "-o", $"Dir::Etc::SourceList={apt}/sources.list", "-o", "Dir::Etc::SourceParts=/nonexistent", "-o", $"Dir::State::Lists={apt}/lists",
            "-o", $"Dir::Cache={apt}/cache", "-o", "Dir::State::status=/dev/null", "-o", "APT::Sandbox::User=root",
        ];
        string[] packages = ["libc6", "libstdc++6", "libssl3t64", "libgcc-s1", "zlib1g"];
        var (rc, output) = await RunAsync("apt-get", [.. options, "download", .. packages], null, TimeSpan.FromMinutes(3), debs);
        if (rc != 0)
        {
            // Lists older than the mirror name files it no longer has: refresh them once.
            await RunAsync("apt-get", [.. options, "update"], null, TimeSpan.FromMinutes(3), debs);
            (rc, output) = await RunAsync("apt-get", [.. options, "download", .. packages], null, TimeSpan.FromMinutes(3), debs);
        }

        Assert.That(rc, Is.Zero, $"apt-get download ({Suite}) failed:\n{Tail(output)}");
        string unpacked = Path.Combine(work, "unpacked");
        foreach (string deb in Directory.GetFiles(debs, "*.deb"))
        {
            var (x, xout) = await RunAsync("dpkg-deb", ["-x", deb, unpacked], null, TimeSpan.FromMinutes(1));
            Assert.That(x, Is.Zero, xout);
        }

        Directory.CreateDirectory(destination);
        foreach (string library in RuntimeLibraries)
        {
            string? found = new[] { "usr/lib/x86_64-linux-gnu", "lib/x86_64-linux-gnu" }
                .Select(d => Path.Combine(unpacked, d, library)).FirstOrDefault(File.Exists);
            Assert.That(found, Is.Not.Null, $"{library} is in none of {string.Join(' ', packages)}");
            File.Copy(ResolveLinks(found!), Path.Combine(destination, library));
        }
    }

    /// <summary>The runtime this test runs on: dotnet host, hostfxr and Microsoft.NETCore.App.</summary>
    private static void AddDotnetRuntime(string destination)
    {
        string framework = RuntimeEnvironment.GetRuntimeDirectory().TrimEnd('/');
        string dotnetRoot = Path.GetFullPath(Path.Combine(framework, "..", "..", ".."));
        string version = Path.GetFileName(framework);
        Directory.CreateDirectory(destination);
        File.Copy(Path.Combine(dotnetRoot, "dotnet"), Path.Combine(destination, "dotnet"));
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(Path.Combine(destination, "dotnet"), UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }
        string fxr = Directory.GetDirectories(Path.Combine(dotnetRoot, "host", "fxr")).OrderBy(d => d, StringComparer.Ordinal).Last();
        CopyDirectory(fxr, Path.Combine(destination, "host", "fxr", Path.GetFileName(fxr)));
        CopyDirectory(framework, Path.Combine(destination, "shared", "Microsoft.NETCore.App", version));
    }

    private static string ResolveLinks(string path)
    {
        var info = new FileInfo(path);
        return info.LinkTarget is null ? path : info.ResolveLinkTarget(returnFinalTarget: true)?.FullName ?? path;
    }

    private static void CopyDirectory(string source, string destination)
    {
        Directory.CreateDirectory(destination);
        foreach (string file in Directory.GetFiles(source))
        {
            File.Copy(ResolveLinks(file), Path.Combine(destination, Path.GetFileName(file)));
        }

        foreach (string directory in Directory.GetDirectories(source))
        {
            CopyDirectory(directory, Path.Combine(destination, Path.GetFileName(directory)));
        }
    }

    private static string Tail(string text) => text.Length > 6000 ? text[^6000..] : text;

    /// <summary>Exit code and everything the tool printed (stdout, then stderr).</summary>
    private static async Task<(int ExitCode, string Output)> RunAsync(string file, IEnumerable<string> args, IReadOnlyDictionary<string, string>? environment,
        TimeSpan limit, string? workingDirectory = null)
    {
        var result = await ToolRunner.RunAsync(file, args, limit, environment, workingDirectory);
        return (result.ExitCode, result.Stdout + result.Stderr);
    }
}
