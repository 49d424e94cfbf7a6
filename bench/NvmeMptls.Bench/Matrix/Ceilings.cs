using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using NvmeMptls.Transport.Pdu;

namespace NvmeMptls.Bench.Matrix;

/// <summary>
/// What the machine itself can do, measured in the same run: loopback TCP and MPTCP throughput (iperf3, the MPTCP run
/// under mptcpize), AES-GCM on one core (openssl speed) and our CRC32C. Each is null when its tool is missing.
/// </summary>
public sealed record Ceilings(double? TcpMiBps, double? MptcpMiBps, double? Aes128GcmMiBps, double? Aes256GcmMiBps, double Crc32cMiBps)
{
    /// <summary>
    /// The load generator's own cost: <c>nvme-mptls bench --ioengine=null</c>, 4 KiB randread QD32 on one core (IOPS and
    /// CPU µs per I/O). Every initiator figure against a real target includes this much.
    /// </summary>
    public (double Iops, double CpuMicrosPerIo)? NullEngine { get; init; }

    public static async Task<(double Iops, double CpuMicrosPerIo)?> NullEngineAsync(string cliDll, int? cpu, int seconds)
    {
        var args = Pinned(cpu, ["dotnet", cliDll, "bench", "--ioengine=null", "--name", "null", "--rw", "randread", "--bs", "4k", "--iodepth", "32",
            "--size", "1g", "--ramp_time", "1", "--runtime", seconds.ToString(CultureInfo.InvariantCulture), "--time_based", "--output-format", "json"]);
        var (exit, stdout, _) = await InitiatorRun.RunAsync(args[0], args[1..], TimeSpan.FromMinutes(2)).ConfigureAwait(false);
        if (exit != 0)
        {
            return null;
        }

        using var json = JsonDocument.Parse(stdout);
        return (json.RootElement.GetProperty("jobs")[0].GetProperty("read").GetProperty("iops").GetDouble(),
            json.RootElement.GetProperty("nvme-mptls").GetProperty("cpu_us_per_io").GetDouble());
    }

    public static async Task<Ceilings> MeasureAsync(int? serverCpu, int? clientCpu)
    {
        var tcp = await IperfAsync(mptcp: false, serverCpu, clientCpu).ConfigureAwait(false);
        var mptcp = await IperfAsync(mptcp: true, serverCpu, clientCpu).ConfigureAwait(false);
        var aes128 = await OpenSslAsync("aes-128-gcm", clientCpu).ConfigureAwait(false);
        var aes256 = await OpenSslAsync("aes-256-gcm", clientCpu).ConfigureAwait(false);
        return new Ceilings(tcp, mptcp, aes128, aes256, Crc32c());
    }

    private static string[] Pinned(int? cpu, params string[] command) =>
        cpu is { } c ? ["taskset", "-c", c.ToString(CultureInfo.InvariantCulture), .. command] : command;

    private static async Task<double?> IperfAsync(bool mptcp, int? serverCpu, int? clientCpu)
    {
        if (!Exists("iperf3") || (mptcp && !Exists("mptcpize")))
        {
            return null;
        }

        var port = 25201 + (mptcp ? 1 : 0);
        string[] wrap = mptcp ? ["mptcpize", "run"] : [];
        var server = Pinned(serverCpu, [.. wrap, "iperf3", "-s", "-1", "-B", "127.0.0.1", "-p", port.ToString(CultureInfo.InvariantCulture)]);
        using var serverProcess = Process.Start(new ProcessStartInfo(server[0], server[1..]) { RedirectStandardOutput = true, UseShellExecute = false });
        await Task.Delay(500).ConfigureAwait(false);
        var client = Pinned(clientCpu, [.. wrap, "iperf3", "-c", "127.0.0.1", "-p", port.ToString(CultureInfo.InvariantCulture), "-t", "5", "-J"]);
        var (exit, stdout, _) = await InitiatorRun.RunAsync(client[0], client[1..], TimeSpan.FromSeconds(30)).ConfigureAwait(false);
        if (serverProcess is { HasExited: false })
        {
            serverProcess.Kill();
        }

        if (exit != 0)
        {
            return null;
        }

        using var json = JsonDocument.Parse(stdout);
        return json.RootElement.GetProperty("end").GetProperty("sum_received").GetProperty("bits_per_second").GetDouble() / 8 / (1 << 20);
    }

    private static async Task<double?> OpenSslAsync(string cipher, int? cpu)
    {
        if (!Exists("openssl"))
        {
            return null;
        }

        var command = Pinned(cpu, "openssl", "speed", "-evp", cipher, "-bytes", "16384", "-seconds", "3", "-mr");
        var (exit, stdout, _) = await InitiatorRun.RunAsync(command[0], command[1..], TimeSpan.FromSeconds(60)).ConfigureAwait(false);
        if (exit != 0)
        {
            return null;
        }

        // -mr prints "+F:<n>:<name>:<bytes per second for each size>".
        foreach (var line in stdout.Split('\n'))
        {
            if (line.StartsWith("+F:", StringComparison.Ordinal))
            {
                var fields = line.Split(':');
                return double.Parse(fields[^1], CultureInfo.InvariantCulture) / (1 << 20);
            }
        }

        return null;
    }

    /// <summary>Our CRC32C (header and data digests) over a 64 KiB buffer for about a second, on this thread.</summary>
    private static double Crc32c()
    {
        var buffer = new byte[64 << 10];
        Random.Shared.NextBytes(buffer);
        var watch = Stopwatch.StartNew();
        long bytes = 0;
        uint crc = 0;
        while (watch.Elapsed < TimeSpan.FromSeconds(1))
        {
            crc ^= Crc32C.Compute(buffer);
            bytes += buffer.Length;
        }

        GC.KeepAlive(crc);
        return bytes / watch.Elapsed.TotalSeconds / (1 << 20);
    }

    private static bool Exists(string tool) =>
        Environment.GetEnvironmentVariable("PATH")?.Split(':').Any(d => File.Exists(Path.Combine(d, tool))) == true;
}
