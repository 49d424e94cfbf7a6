using System.Diagnostics;
using System.Globalization;
using System.Text;
using NvmeMptls.Transport.Nvme;

namespace NvmeMptls.IntegrationTests.TestKit;

/// <summary>
/// SPDK's nvmf_tgt on loopback, configured through rpc.py the way SPDK's own test/nvmf/target/tls.sh does: a TCP
/// transport, a 64 MiB malloc bdev with 512-byte blocks in <see cref="SubsystemNqn"/>, one host allowed with a PSK
/// from the keyring, a plain and a TLS (secure channel) listener for the subsystem and for discovery. The discovery
/// subsystem must not allow any host before it takes a secure listener, and knows the host's PSK itself.
/// Runs without hugepages (--no-huge) and in interrupt mode so its reactor does not spin a shared core.
/// </summary>
public sealed class SpdkNvmfTarget : IDisposable
{
    public const string SubsystemNqn = "nqn.2016-06.io.spdk:cnode1";
    private const string DiscoveryNqn = WellKnownNqns.Discovery;

    private readonly SpdkBuild _build;
    private readonly string _socket;
    private readonly StringBuilder _log = new();
    private readonly Process _process;

    private SpdkNvmfTarget(SpdkBuild build, string socket, Process process)
    {
        _build = build;
        _socket = socket;
        _process = process;
    }

    public int Port { get; } = TargetRunner.FreePort();
    public int TlsPort { get; } = TargetRunner.FreePort();
    public int DiscoveryPort { get; } = TargetRunner.FreePort();
    public int TlsDiscoveryPort { get; } = TargetRunner.FreePort();

    public string Log
    {
        get
        {
            lock (_log)
            {
                return _log.ToString();
            }
        }
    }

    /// <summary>Starts nvmf_tgt and configures it for <paramref name="hostNqn"/> with the PSK in <paramref name="pskFile"/> (mode 0600).</summary>
    public static async Task<SpdkNvmfTarget> StartAsync(SpdkBuild build, string hostNqn, string pskFile)
    {
        var socket = Path.Combine(Path.GetTempPath(), $"spdk-{Environment.ProcessId}-{TargetRunner.FreePort()}.sock");
        var start = new ProcessStartInfo(build.Bin("nvmf_tgt")) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in new[] { "--no-huge", "-s", "1024", "-m", "0x1", "-r", socket, "--interrupt-mode" })
        {
            start.ArgumentList.Add(arg);
        }

        foreach (var (key, value) in build.Environment)
        {
            start.Environment[key] = value;
        }

        var process = Process.Start(start) ?? throw new InvalidOperationException("could not start nvmf_tgt");
        var target = new SpdkNvmfTarget(build, socket, process);
        process.OutputDataReceived += (_, e) => target.Append(e.Data);
        process.ErrorDataReceived += (_, e) => target.Append(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            await target.WaitForRpcAsync();
            await target.ConfigureAsync(hostNqn, pskFile);
            return target;
        }
        catch
        {
            target.Dispose();
            throw;
        }
    }

    public void Dispose()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
                _process.WaitForExit(10_000);
            }
        }
        catch (InvalidOperationException)
        {
            // already gone
        }

        _process.Dispose();
        File.Delete(_socket);
    }

    private void Append(string? line)
    {
        if (line is not null)
        {
            lock (_log)
            {
                _log.Append(line).Append('\n');
            }
        }
    }

    private async Task WaitForRpcAsync()
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (DateTime.UtcNow < deadline)
        {
            if (_process.HasExited)
            {
                throw new InvalidOperationException($"nvmf_tgt exited with {_process.ExitCode}:\n{Log}");
            }

            if (File.Exists(_socket) && (await RpcRawAsync("spdk_get_version")).ExitCode == 0)
            {
                return;
            }

            await Task.Delay(250);
        }

        throw new TimeoutException($"nvmf_tgt did not answer on {_socket}:\n{Log}");
    }

    private async Task ConfigureAsync(string hostNqn, string pskFile)
    {
        string Port(int p) => p.ToString(CultureInfo.InvariantCulture);
        await RpcAsync("nvmf_create_transport", "-t", "TCP");
        await RpcAsync("bdev_malloc_create", "-b", "Malloc0", "64", "512");
        await RpcAsync("nvmf_create_subsystem", SubsystemNqn, "-s", "SPDK00000000000001");
        await RpcAsync("nvmf_subsystem_add_ns", SubsystemNqn, "Malloc0");
        await RpcAsync("keyring_file_add_key", "key0", pskFile);
        await RpcAsync("nvmf_subsystem_add_host", SubsystemNqn, hostNqn, "--psk", "key0");
        await RpcAsync("nvmf_subsystem_add_listener", SubsystemNqn, "-t", "tcp", "-a", "127.0.0.1", "-s", Port(this.Port));
        await RpcAsync("nvmf_subsystem_add_listener", SubsystemNqn, "-t", "tcp", "-a", "127.0.0.1", "-s", Port(TlsPort), "-k");
        await RpcAsync("nvmf_subsystem_add_host", DiscoveryNqn, hostNqn, "--psk", "key0");
        await RpcAsync("nvmf_subsystem_allow_any_host", "-d", DiscoveryNqn);
        await RpcAsync("nvmf_subsystem_add_listener", DiscoveryNqn, "-t", "tcp", "-a", "127.0.0.1", "-s", Port(DiscoveryPort));
        await RpcAsync("nvmf_subsystem_add_listener", DiscoveryNqn, "-t", "tcp", "-a", "127.0.0.1", "-s", Port(TlsDiscoveryPort), "-k");
    }

    private async Task RpcAsync(params string[] args)
    {
        var result = await RpcRawAsync(args);
        if (result.ExitCode != 0)
        {
            throw new InvalidOperationException($"rpc.py {string.Join(' ', args)} failed: {result}\nnvmf_tgt log:\n{Log}");
        }
    }

    private Task<ToolRunner.Result> RpcRawAsync(params string[] args) =>
        ToolRunner.RunAsync("python3", [_build.RpcPy, "-s", _socket, .. args], TimeSpan.FromSeconds(60), _build.Environment);
}
