using System.Diagnostics;
using System.Globalization;
using System.IO.Pipelines;
using System.Net;
using NvmeMptls.Crypto.Handshake;
using NvmeMptls.Crypto.Psk;
using NvmeMptls.Transport.Connections;
using NvmeMptls.Transport.Multipath;
using NvmeMptls.Transport.Sockets;

namespace NvmeMptls.KtlsProbe;

/// <summary>
/// kTLS against our own record layer on one kernel: for each suite, each side that asks for kTLS, and TCP and MPTCP,
/// a loopback connection does our TLS 1.3 PSK handshake, then moves 1 MiB each way and compares. One line per case:
/// <c>KTLS-CASE suite=… ktls-side=… carrier=… provider=… result=pass|FAIL detail</c>; exit 0 when every case moved
/// its data intact (a case whose kTLS request fell back to user space still passes, and says why on its line).
/// </summary>
public static class Program
{
    private const string Host = "nqn.2014-08.org.nvmexpress:uuid:0b5e55ed-0000-4000-8000-00000000c7e5";
    private const string Subsys = "nqn.2026-01.io.nvmemptls:ktls";
    private const int Payload = 1 << 20;

    private static readonly string[] Keys =
    [
        "NVMeTLSkey-1:01:VRLbtnN9AQb2WXW3c9+wEf/DRLz0QuLdbYvEhwtdWwNf9LrZ:",
        "NVMeTLSkey-1:02:VRLbtnN9AQb2WXW3c9+wEf/DRLz0QuLdbYvEhwtdWwP/w0S89ELi3W2LxIcLXVsDn8kXZQ==:",
    ];

    public static async Task<int> Main()
    {
        var ulps = File.Exists("/proc/sys/net/ipv4/tcp_available_ulp") ? File.ReadAllText("/proc/sys/net/ipv4/tcp_available_ulp").Trim() : "?";
        Console.WriteLine($"KTLS-KERNEL {Environment.OSVersion.VersionString} ulps=[{ulps}]");
        foreach (var carrier in new[] { "tcp", "mptcp" })
        {
            Console.WriteLine($"KTLS-ULP carrier={carrier} {await UlpAnswerAsync(carrier)}");
        }

        var failures = 0;
        foreach (var key in Keys)
        {
            foreach (var side in new[] { "client", "server" })
            {
                foreach (var carrier in new[] { "tcp", "mptcp" })
                {
                    failures += await RunCaseAsync(key, side, carrier) ? 0 : 1;
                }
            }
        }

        Console.WriteLine($"KTLS-DONE failures={failures}");
        return failures == 0 ? 0 : 1;
    }

    private static async Task<bool> RunCaseAsync(string key, string kernelSide, string carrier)
    {
        var policy = carrier == "mptcp" ? MultipathPolicy.Required : MultipathPolicy.Disabled;
        var label = $"suite={(key.Contains(":02:", StringComparison.Ordinal) ? "TLS_AES_256_GCM_SHA384" : "TLS_AES_128_GCM_SHA256")} ktls-side={kernelSide} carrier={carrier}";
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            await using var listener = StreamListener.Bind(new IPEndPoint(IPAddress.Loopback, 0), policy);
            var endpoint = (IPEndPoint)listener.LocalEndPoint;
            var accept = listener.AcceptAsync(timeout.Token).AsTask();
            var clientCarrier = await StreamConnector.ConnectAsync(endpoint, policy, cancellationToken: timeout.Token);
            var serverCarrier = await accept;

            using var keyring = new NvmePskKeyring();
            keyring.Add(key);
            using var configured = ConfiguredPsk.Parse(key);
            using var psk = ClientPsk.Create(configured, Host, Subsys);
            var kernel = new NvmeTlsOptions { RecordProvider = TlsRecordProvider.KernelTls };
            var user = new NvmeTlsOptions { RecordProvider = TlsRecordProvider.DotNetAesGcm };
            var serverTask = NvmeTls.AcceptAsync(serverCarrier, keyring, kernelSide == "server" ? kernel : user, timeout.Token);
            var client = await NvmeTls.ConnectAsync(clientCarrier, psk, kernelSide == "client" ? kernel : user, timeout.Token);
            var server = await serverTask;
            var (kernelConn, userConn) = kernelSide == "client" ? (client, server) : (server, client);
            var provider = $"{kernelConn.TransportName}/{kernelConn.Tls!.SealProvider}";

            // Client → server, then the server echoes it back: both directions through both record layers.
            var data = new byte[Payload];
            Random.Shared.NextBytes(data);
            var stopwatch = Stopwatch.StartNew();
            var echo = EchoAsync(server, Payload, timeout.Token);
            await client.Output.WriteAsync(data, timeout.Token);
            var back = await ReadExactlyAsync(client.Input, Payload, timeout.Token);
            await echo;
            var ok = back.AsSpan().SequenceEqual(data);
            var rate = 2.0 * Payload / (1 << 20) / stopwatch.Elapsed.TotalSeconds;

            // The user-space side closes with close_notify: the side that asked for kTLS must see a clean end.
            await userConn.DisposeAsync();
            var close = await EndOfStreamAsync(kernelConn.Input, timeout.Token);
            await kernelConn.DisposeAsync();
            ok &= close == "clean";
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"KTLS-CASE {label} provider={provider} result={(ok ? "pass" : "FAIL")} close={close} {rate:0} MiB/s{(back.AsSpan().SequenceEqual(data) ? "" : " data differs")}"));
            return ok;
        }
        catch (Exception ex)
        {
            Console.WriteLine($"KTLS-CASE {label} provider=? result=FAIL {ex.GetType().Name}: {ex.Message.ReplaceLineEndings(" ")}");
            return false;
        }
    }

    /// <summary>What the kernel answers when kTLS is installed on a connected socket of this carrier (dummy keys).</summary>
    private static async Task<string> UlpAnswerAsync(string carrier)
    {
        var policy = carrier == "mptcp" ? MultipathPolicy.Required : MultipathPolicy.Disabled;
        try
        {
            await using var listener = StreamListener.Bind(new IPEndPoint(IPAddress.Loopback, 0), policy);
            var accept = listener.AcceptAsync().AsTask();
            await using var client = await StreamConnector.ConnectAsync((IPEndPoint)listener.LocalEndPoint, policy);
            await using var server = await accept;
            using var info = NvmeMptls.Transport.Tls.TlsCryptoInfo.FromTrafficSecret(0x1301, new byte[32]);
            return NvmeMptls.Transport.Tls.KernelTls.TryEnable(client.UnderlyingSocket, info, info, out var reason)
                ? "accepted=yes"
                : $"accepted=no reason={reason}";
        }
        catch (Exception ex)
        {
            return $"accepted=? error={ex.GetType().Name}: {ex.Message}";
        }
    }

    /// <summary>Reads to the end: "clean" for an orderly end of stream, else the error it ended with.</summary>
    private static async Task<string> EndOfStreamAsync(PipeReader reader, CancellationToken ct)
    {
        try
        {
            while (true)
            {
                var read = await reader.ReadAsync(ct);
                reader.AdvanceTo(read.Buffer.End);
                if (read.IsCompleted)
                {
                    return read.Buffer.IsEmpty ? "clean" : "clean-after-data";
                }
            }
        }
        catch (Exception ex)
        {
            return $"error:{ex.GetType().Name}:{ex.Message.Replace(' ', '_')}";
        }
    }

    private static async Task EchoAsync(StreamConnection connection, int length, CancellationToken ct)
    {
        var received = await ReadExactlyAsync(connection.Input, length, ct);
        await connection.Output.WriteAsync(received, ct);
    }

    private static async Task<byte[]> ReadExactlyAsync(PipeReader reader, int length, CancellationToken ct)
    {
        var result = new byte[length];
        var done = 0;
        while (done < length)
        {
            var read = await reader.ReadAsync(ct);
            var buffer = read.Buffer;
            var take = (int)Math.Min(buffer.Length, length - done);
            foreach (var segment in buffer.Slice(0, take))
            {
                segment.Span.CopyTo(result.AsSpan(done));
                done += segment.Length;
            }

            reader.AdvanceTo(buffer.GetPosition(take));
            if (read.IsCompleted && done < length)
            {
                throw new EndOfStreamException($"stream ended after {done} of {length} bytes");
            }
        }

        return result;
    }
}
