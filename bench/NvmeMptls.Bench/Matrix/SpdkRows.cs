using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;

namespace NvmeMptls.Bench.Matrix;

/// <summary>
/// With an SPDK build named by <c>NVMEMPTLS_SPDK</c> (from <c>../shared/bench/spdk-build.sh</c>): SPDK's nvmf_tgt with a
/// 1 GiB Malloc bdev on CPU 0 and spdk_nvme_perf on CPU 1, as rows beside ours — spdk_nvme_perf → SPDK,
/// spdk_nvme_perf → NvmeMptls, and nvme-mptls bench → SPDK — for the plain TCP cells. nvmf_tgt polls (its normal
/// mode), so its core is always busy: its CPU per I/O is one core's microseconds over its IOPS.
/// </summary>
public sealed partial class SpdkRows : IDisposable
{
    public const string Variable = "NVMEMPTLS_SPDK";
    private const string Nqn = "nqn.2016-06.io.spdk:bench";
    private const string HostNqn = "nqn.2014-08.org.nvmexpress:uuid:6e6f6e65-0000-4000-8000-62656e636821";

    private readonly string _root;
    private readonly string _socket;
    private readonly Process _process;

    private SpdkRows(string root, string socket, Process process, int port)
    {
        _root = root;
        _socket = socket;
        _process = process;
        Port = port;
    }

    public int Port { get; }

    public static string? Root => Environment.GetEnvironmentVariable(Variable) is { Length: > 0 } r && File.Exists(Path.Combine(r, "build", "bin", "nvmf_tgt")) ? r : null;

    /// <summary>
    /// Starts nvmf_tgt with the 1 GiB Malloc namespace. With <paramref name="tls"/> the listener is TLS only (<c>-k</c>),
    /// the host is admitted with the PSK in <paramref name="keyFile"/> (interchange format, mode 0600), and
    /// <see cref="SpdkTls.Tuned"/> first raises the ssl socket buffers to 2 MiB, as the issue's tuned SPDK rows did.
    /// </summary>
    public static async Task<SpdkRows> StartAsync(string root, SpdkTls tls = SpdkTls.None, string? keyFile = null)
    {
        var socket = Path.Combine(Path.GetTempPath(), $"spdk-bench-{Environment.ProcessId}.sock");
        var port = TargetProcess.FreePorts(1)[0];
        var psi = StartInfo(root, Path.Combine(root, "build", "bin", "nvmf_tgt"), ["--no-huge", "-s", "2048", "-m", "0x1", "-r", socket, .. tls == SpdkTls.Tuned ? ["--wait-for-rpc"] : Array.Empty<string>()]);
        var process = Process.Start(psi) ?? throw new InvalidOperationException("could not start nvmf_tgt");
        _ = process.StandardOutput.ReadToEndAsync();
        _ = process.StandardError.ReadToEndAsync();
        var spdk = new SpdkRows(root, socket, process, port);
        try
        {
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
            while ((await spdk.RpcAsync("spdk_get_version").ConfigureAwait(false)) != 0)
            {
                if (DateTime.UtcNow > deadline || process.HasExited)
                {
                    throw new InvalidOperationException("nvmf_tgt did not come up");
                }

                await Task.Delay(250).ConfigureAwait(false);
            }

            var listen = port.ToString(CultureInfo.InvariantCulture);
            var secure = tls != SpdkTls.None;
            string[][] config =
            [
                // Socket options may only be set before the framework starts (hence --wait-for-rpc above).
                .. tls == SpdkTls.Tuned
                    ? [["sock_impl_set_options", "-i", "ssl", "-r", "2097152", "-s", "2097152"], ["framework_start_init"], ["framework_wait_init"]]
                    : Array.Empty<string[]>(),
                ["nvmf_create_transport", "-t", "TCP"],
                ["bdev_malloc_create", "-b", "Malloc0", "1024", "512"],
                ["nvmf_create_subsystem", Nqn, .. secure ? Array.Empty<string>() : ["-a"], "-s", "SPDK00000000000001"],
                ["nvmf_subsystem_add_ns", Nqn, "Malloc0"],
                .. secure
                    ?
                    [
                        ["keyring_file_add_key", "key0", keyFile ?? throw new ArgumentNullException(nameof(keyFile))],
                        ["nvmf_subsystem_add_host", Nqn, HostNqn, "--psk", "key0"],
                    ]
                    : Array.Empty<string[]>(),
                ["nvmf_subsystem_add_listener", Nqn, "-t", "tcp", "-a", "127.0.0.1", "-s", listen, .. secure ? ["-k"] : Array.Empty<string>()],
            ];
            foreach (var step in config)
            {
                if (await spdk.RpcAsync(step).ConfigureAwait(false) != 0)
                {
                    throw new InvalidOperationException($"rpc.py {string.Join(' ', step)} failed");
                }
            }

            return spdk;
        }
        catch
        {
            spdk.Dispose();
            throw;
        }
    }

    /// <summary>
    /// spdk_nvme_perf on CPU 1 against a target: IOPS, MiB/s and mean latency in µs. With <paramref name="pskFile"/> it
    /// connects over TLS (its ssl socket implementation, that PSK).
    /// </summary>
    public static async Task<(double Iops, double MiBps, double MeanMicros)> PerfAsync(string root, int port, string nqn, MatrixCell cell, int seconds,
        string? pskFile = null)
    {
        var bytes = cell.BlockSize == "4k" ? "4096" : "131072";
        // spdk_nvme_perf sends an empty HOSTNQN unless the transport id names one; our target refuses an empty one.
        var trid = $"trtype:TCP adrfam:IPv4 traddr:127.0.0.1 trsvcid:{port} subnqn:{nqn} hostnqn:{HostNqn}";
        var psi = StartInfo(root, Path.Combine(root, "build", "bin", "spdk_nvme_perf"),
            ["--no-huge", "-s", "1024", "-c", "0x2", "-q", cell.IoDepth.ToString(CultureInfo.InvariantCulture), "-o", bytes, "-w", cell.Rw,
             "-t", seconds.ToString(CultureInfo.InvariantCulture), .. pskFile is null ? Array.Empty<string>() : ["-S", "ssl", "--psk-path", pskFile], "-r", trid]);
        using var process = Process.Start(psi) ?? throw new InvalidOperationException("could not start spdk_nvme_perf");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync().ConfigureAwait(false);
        var output = await stdout.ConfigureAwait(false);
        var total = TotalLine().Match(output);
        if (!total.Success)
        {
            throw new InvalidOperationException($"spdk_nvme_perf {cell.Name} printed no Total line (exit {process.ExitCode}):\n{output}\n{await stderr.ConfigureAwait(false)}");
        }

        double D(int g) => double.Parse(total.Groups[g].Value, CultureInfo.InvariantCulture);
        return (D(1), D(2), D(3));
    }

    public static string SpdkNqn => Nqn;

    private static ProcessStartInfo StartInfo(string root, string program, string[] args)
    {
        var psi = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }

        psi.Environment["LD_LIBRARY_PATH"] = Path.Combine(root, "build", "lib");
        return psi;
    }

    private async Task<int> RpcAsync(params string[] args)
    {
        var (exit, _, _) = await InitiatorRun.RunAsync("python3", [Path.Combine(_root, "scripts", "rpc.py"), "-s", _socket, .. args], TimeSpan.FromSeconds(60)).ConfigureAwait(false);
        return exit;
    }

    public void Dispose()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            _process.WaitForExit(10_000);
        }

        _process.Dispose();
        File.Delete(_socket);
    }

    [GeneratedRegex(@"^Total\s+:\s+([0-9.]+)\s+([0-9.]+)\s+([0-9.]+)", RegexOptions.Multiline)]
    private static partial Regex TotalLine();
}

/// <summary>How SPDK's target is set up for the TLS rows: no TLS, stock ssl socket options, or 2 MiB ssl socket buffers.</summary>
public enum SpdkTls
{
    None,
    Stock,
    Tuned,
}
