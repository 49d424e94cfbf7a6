using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace NvmeMptls.Bench.Matrix;

/// <summary>
/// The real <c>nvme-mptls-target</c> started as its own process, pinned to one CPU, with a memory namespace; its
/// Prometheus endpoint gives the process's CPU seconds and allocated bytes before and after each cell.
/// </summary>
public sealed class TargetProcess : IAsyncDisposable
{
    public const string Nqn = "nqn.2026-01.io.nvmemptls:default";

    private readonly Process _process;
    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(10) };

    private TargetProcess(Process process, int port, int metricsPort)
    {
        _process = process;
        Port = port;
        MetricsUrl = new Uri($"http://127.0.0.1:{metricsPort}/metrics");
    }

    public int Port { get; }

    public Uri MetricsUrl { get; }

    /// <param name="receivePollMicros">Above 0: the target busy-polls its sockets that long before a receive sleeps.</param>
    public static async Task<TargetProcess> StartAsync(string targetDll, Carrier carrier, string? tlsKey, int? cpu, string namespaceSize, int receivePollMicros = 0)
    {
        var ports = FreePorts(2);
        var port = ports[0];
        var metricsPort = ports[1];
        var args = new List<string>();
        if (cpu is { } c)
        {
            args.AddRange(["-c", c.ToString(CultureInfo.InvariantCulture), "dotnet"]);
        }

        args.AddRange([targetDll, "--listen", $"127.0.0.1:{port}", "--discovery", "none", "--memory-ns", namespaceSize,
            "--multipath", carrier.Mptcp ? "required" : "disabled", "--metrics", $"http://127.0.0.1:{metricsPort}/metrics"]);
        if (carrier.Tls)
        {
            args.AddRange(["--tls", "required", "--tls-key", tlsKey ?? throw new ArgumentNullException(nameof(tlsKey))]);
        }

        var psi = new ProcessStartInfo(cpu is null ? "dotnet" : "taskset")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }

        psi.Environment["DOTNET_gcServer"] = "0";
        if (receivePollMicros > 0)
        {
            psi.Environment["NVMEMPTLS_Target__ReceivePollMicroseconds"] = receivePollMicros.ToString(CultureInfo.InvariantCulture);
        }
        var process = Process.Start(psi) ?? throw new InvalidOperationException("could not start the target");
        var target = new TargetProcess(process, port, metricsPort);
        _ = process.StandardError.ReadToEndAsync();
        using var ready = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        while (await process.StandardOutput.ReadLineAsync(ready.Token).ConfigureAwait(false) is { } line)
        {
            if (line.Contains("is serving", StringComparison.Ordinal))
            {
                _ = process.StandardOutput.ReadToEndAsync(CancellationToken.None);
                return target;
            }
        }

        await target.DisposeAsync().ConfigureAwait(false);
        throw new InvalidOperationException($"the target exited before serving (exit code {(process.HasExited ? process.ExitCode : -1)})");
    }

    /// <summary>
    /// CPU seconds, managed bytes allocated and I/O commands completed so far by the target process, read from its
    /// metrics.
    /// </summary>
    public async Task<(double CpuSeconds, double AllocatedBytes, double Commands)> SampleAsync()
    {
        var text = await _http.GetStringAsync(MetricsUrl).ConfigureAwait(false);
        return (Read(text, "process_cpu_seconds_total"), Read(text, "nvmemptls_process_allocated_bytes_total"),
            Sum(text, "nvmemptls_namespace_commands_total{"));
    }

    /// <summary>The sum of every series of a labelled metric (0 when it has none yet).</summary>
    private static double Sum(string metrics, string prefix)
    {
        var sum = 0.0;
        foreach (var line in metrics.Split('\n'))
        {
            if (line.StartsWith(prefix, StringComparison.Ordinal))
            {
                sum += double.Parse(line.AsSpan(line.LastIndexOf(' ') + 1), CultureInfo.InvariantCulture);
            }
        }

        return sum;
    }

    private static double Read(string metrics, string name)
    {
        foreach (var line in metrics.Split('\n'))
        {
            if (line.StartsWith(name + " ", StringComparison.Ordinal))
            {
                return double.Parse(line.AsSpan(name.Length + 1), CultureInfo.InvariantCulture);
            }
        }

        throw new InvalidDataException($"{name} is not in the target's metrics");
    }

    /// <summary>
    /// Distinct loopback ports free now: every listener stays open until all are chosen, so the kernel cannot hand the
    /// same port out twice (two "bind 0, close" calls in a row can return the same one).
    /// </summary>
    internal static int[] FreePorts(int count)
    {
        var listeners = new TcpListener[count];
        try
        {
            var ports = new int[count];
            for (var i = 0; i < count; i++)
            {
                listeners[i] = new TcpListener(IPAddress.Loopback, 0);
                listeners[i].Start();
                ports[i] = ((IPEndPoint)listeners[i].LocalEndpoint).Port;
            }

            return ports;
        }
        finally
        {
            foreach (var l in listeners)
            {
                l?.Dispose();
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        _http.Dispose();
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync().ConfigureAwait(false);
        }

        _process.Dispose();
    }
}
