using System.Globalization;

namespace NvmeMptls.IntegrationTests.TestKit;

/// <summary>
/// A built SPDK tree (v24.09, from <c>../shared/bench/spdk-build.sh GIT_DIR DIR</c>) named by <see cref="Variable"/>:
/// nvmf_tgt, spdk_nvme_identify, spdk_nvme_perf and rpc.py. The packaged DPDK makes the binaries load SPDK's shared
/// libraries from build/lib, so every run gets LD_LIBRARY_PATH.
/// </summary>
public sealed class SpdkBuild
{
    public const string Variable = "NVMEMPTLS_SPDK";

    private SpdkBuild(string root)
    {
        Root = root;
        Environment = new Dictionary<string, string> { ["LD_LIBRARY_PATH"] = Path.Combine(root, "build", "lib") };
    }

    public string Root { get; }

    public IReadOnlyDictionary<string, string> Environment { get; }

    public string RpcPy => Path.Combine(Root, "scripts", "rpc.py");

    public string Bin(string name) => Path.Combine(Root, "build", "bin", name);

    /// <summary>The build <see cref="Variable"/> names, or Assert.Ignore saying how to make one.</summary>
    public static SpdkBuild RequireOrIgnore()
    {
        var root = System.Environment.GetEnvironmentVariable(Variable);
        if (string.IsNullOrEmpty(root))
        {
            Assert.Ignore($"no SPDK build configured: set {Variable} to a tree built by " +
                "'bash ../shared/bench/spdk-build.sh <spdk git dir> <dir>' (SPDK v24.09, a few minutes on two cores)");
        }

        var build = new SpdkBuild(root!);
        foreach (var file in new[] { build.Bin("nvmf_tgt"), build.Bin("spdk_nvme_identify"), build.Bin("spdk_nvme_perf"), build.RpcPy })
        {
            if (!File.Exists(file))
            {
                Assert.Ignore($"{Variable}={root} is not a finished SPDK build: {file} is missing");
            }
        }

        return build;
    }

    /// <summary>Runs one of the SPDK binaries to the end.</summary>
    public Task<ToolRunner.Result> RunAsync(string binary, IEnumerable<string> args, TimeSpan timeout) =>
        ToolRunner.RunAsync(Bin(binary), args, timeout, Environment);

    /// <summary>A TCP transport id for <c>-r</c>; <paramref name="subsystemNqn"/> null means the discovery subsystem.</summary>
    public static string TransportId(int port, string? subsystemNqn = null, string? hostNqn = null)
    {
        var trid = string.Create(CultureInfo.InvariantCulture, $"trtype:TCP adrfam:IPv4 traddr:127.0.0.1 trsvcid:{port}");
        if (subsystemNqn is not null)
        {
            trid += $" subnqn:{subsystemNqn}";
        }

        return hostNqn is null ? trid : $"{trid} hostnqn:{hostNqn}";
    }
}

/// <summary>
/// spdk_nvme_identify cannot run without hugepages (unlike nvmf_tgt and spdk_nvme_perf, it has no --no-huge). When
/// the machine has too few free 2 MiB pages or no hugetlbfs mount, this reserves pages and mounts a private hugetlbfs
/// (root only) and puts both back on dispose; otherwise it changes nothing.
/// </summary>
public sealed class SpdkHugePages : IDisposable
{
    private const string NrHugePages = "/proc/sys/vm/nr_hugepages";
    private readonly int? _previous;
    private readonly string? _mount;

    private SpdkHugePages(int? previous, string? mount)
    {
        _previous = previous;
        _mount = mount;
    }

    public static async Task<SpdkHugePages> ReserveOrIgnoreAsync(int pages)
    {
        var free = MemInfo("HugePages_Free");
        var mounted = File.ReadAllLines("/proc/mounts").Any(l => l.Split(' ') is [_, _, "hugetlbfs", ..]);
        if (free >= pages && mounted)
        {
            return new SpdkHugePages(null, null);
        }

        if (System.Environment.UserName != "root")
        {
            Assert.Ignore($"spdk_nvme_identify needs {pages} free 2 MiB hugepages and a hugetlbfs mount (have {free} free, mounted: {mounted}); run as root or reserve them");
        }

        int? previous = null;
        if (free < pages)
        {
            previous = int.Parse(File.ReadAllText(NrHugePages).Trim(), CultureInfo.InvariantCulture);
            await File.WriteAllTextAsync(NrHugePages, (previous.Value + pages - free).ToString(CultureInfo.InvariantCulture));
        }

        string? mount = null;
        if (!mounted)
        {
            mount = Directory.CreateTempSubdirectory("spdk-huge-").FullName;
            var result = await ToolRunner.RunAsync("mount", ["-t", "hugetlbfs", "nodev", mount], TimeSpan.FromSeconds(30));
            if (result.ExitCode != 0)
            {
                new SpdkHugePages(previous, null).Dispose();
                Directory.Delete(mount);
                Assert.Ignore($"cannot mount hugetlbfs for spdk_nvme_identify: {result}");
            }
        }

        if (MemInfo("HugePages_Free") < pages)
        {
            var reserved = new SpdkHugePages(previous, mount);
            reserved.Dispose();
            Assert.Ignore($"the kernel gave fewer than {pages} free hugepages (memory too fragmented?)");
        }

        return new SpdkHugePages(previous, mount);
    }

    public void Dispose()
    {
        if (_mount is not null)
        {
            ToolRunner.RunAsync("umount", [_mount], TimeSpan.FromSeconds(30)).GetAwaiter().GetResult();
            Directory.Delete(_mount);
        }

        if (_previous is { } previous)
        {
            File.WriteAllText(NrHugePages, previous.ToString(CultureInfo.InvariantCulture));
        }
    }

    private static int MemInfo(string key)
    {
        foreach (var line in File.ReadLines("/proc/meminfo"))
        {
            if (line.StartsWith(key + ":", StringComparison.Ordinal))
            {
                return int.Parse(line[(key.Length + 1)..].Trim(), CultureInfo.InvariantCulture);
            }
        }

        return 0;
    }
}
