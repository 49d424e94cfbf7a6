using System.Collections.Immutable;
using System.Diagnostics;
using System.Globalization;
using Microsoft.Extensions.Logging.Abstractions;
using NvmeMptls.Crypto.Handshake;
using NvmeMptls.Crypto.Psk;
using NvmeMptls.Initiator;
using NvmeMptls.Initiator.Transport;
using NvmeMptls.Target.Configuration;
using NvmeMptls.Target.Hosting;
using NvmeMptls.Target.Namespaces;
using NvmeMptls.Target.Server;
using NvmeMptls.Target.Subsystems;
using NvmeMptls.Target.Tcp;
using NvmeMptls.Transport.Connections;

namespace NvmeMptls.Bench;

/// <summary>
/// The cost of each layer of the stack on loopback: NVMe/TCP PDUs over an in-memory pipe, then over TCP, over MPTCP
/// (one subflow), TLS over memory (record layer alone), TLS over TCP and TLS over MPTCP — at 4 KiB (QD1 latency,
/// QD32 IOPS) and 128 KiB (QD8 throughput, read and write). "tls/" carriers use a SHA-256 key
/// (TLS_AES_128_GCM_SHA256), "tls384/" a SHA-384 key (TLS_AES_256_GCM_SHA384). Prints a Markdown table.
/// Usage: dotnet run --project bench/NvmeMptls.Bench -c Release -- layers [seconds-per-cell] [carrier,carrier,...]
/// </summary>
public static class Program
{
    private const string Nqn = "nqn.2026-01.io.nvmemptls:bench";
    private const string Key = "NVMeTLSkey-1:01:VRLbtnN9AQb2WXW3c9+wEf/DRLz0QuLdbYvEhwtdWwNf9LrZ:";
    private const string Key384 = "NVMeTLSkey-1:02:VRLbtnN9AQb2WXW3c9+wEf/DRLz0QuLdbYvEhwtdWwP/w0S89ELi3W2LxIcLXVsDn8kXZQ==:";
    private const long NamespaceBytes = 1L << 30;

    public static async Task<int> Main(string[] args)
    {
        if (args.Length > 0 && args[0] == "alloc")
        {
            return await AllocationProfile.RunAsync(args);
        }

        if (args.Length > 0 && args[0] == "micro")
        {
            // BenchmarkDotNet's own command line: --filter '*Pdu*', --inProcess (no child build), --job short, --list flat.
            BenchmarkDotNet.Running.BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args[1..]);
            return 0;
        }

        if (args.Length > 0 && args[0] == "matrix")
        {
            return await Matrix.MatrixCommand.RunAsync(args);
        }

        if (args.Length == 0 || args[0] != "layers")
        {
            await Console.Error.WriteLineAsync("usage: NvmeMptls.Bench layers [seconds-per-cell] [carrier,...] (memory tcp mptcp tls/… tls384/…)\n" +
                "       NvmeMptls.Bench matrix [--seconds N] [--runs N] [--out DIR] [--carriers tcp,mptcp,tls/tcp,tls/mptcp]\n" +
                "       NvmeMptls.Bench alloc [carrier] [read|write] [seconds] [size] [depth]\n" +
                "       NvmeMptls.Bench micro [BenchmarkDotNet options, e.g. --filter '*Crc32C*' --inProcess --job short]");
            return 2;
        }

        var seconds = args.Length > 1 ? double.Parse(args[1], CultureInfo.InvariantCulture) : 3;
        var carriers = args.Length > 2
            ? args[2].Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            : ["memory", "tcp", "mptcp", "tls/memory", "tls/tcp", "tls/mptcp", "tls384/memory", "tls384/tcp", "tls384/mptcp"];
        Console.WriteLine($"| carrier | suite, AEAD provider | 4 KiB read QD1 (µs/IO) | 4 KiB read QD32 (kIOPS) | 128 KiB read QD8 (MiB/s) | 128 KiB write QD8 (MiB/s) |");
        Console.WriteLine("|---|---|---|---|---|---|");
        foreach (var carrier in carriers)
        {
            await using var setup = await Setup.CreateAsync(carrier);
            await using var controller = await NvmeController.ConnectAsync(NvmeControllerOptions.Default with
            {
                TargetPort = setup.Port,
                SubsystemNqn = Nqn,
                IoQueueCount = 2,
                QueueSize = 64,
                Tls = setup.Psk is not null,
                TlsKey = setup.Psk,
            }, setup.Factory);
            var tlsInfo = controller.GetQueuePaths()[^1].Tls;
            var suite = tlsInfo is null ? "—" : $"{tlsInfo.CipherSuiteName}, {tlsInfo.SealProvider}";
            var ns = await controller.OpenNamespaceAsync(1);
            // Fill every block first: the memory namespace allocates its 1 MiB chunks on first write, and a write
            // cell that lands on unallocated chunks measures allocation and page faults, not the stack (the first
            // carrier of a run was up to 2x slower at 128 KiB writes than the same carrier run again).
            await FillAsync(ns);
            await Run(ns, 128 << 10, 8, write: true, 1.0); // warm up
            var qd1 = await Run(ns, 4096, 1, write: false, seconds);
            var qd32 = await Run(ns, 4096, 32, write: false, seconds);
            var big = await Run(ns, 128 << 10, 8, write: false, seconds);
            var bigw = await Run(ns, 128 << 10, 8, write: true, seconds);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| {carrier} | {suite} | {qd1.MeanMicros:0.0} | {qd32.Iops / 1000:0.0} | {big.MiBps:0} | {bigw.MiBps:0} |"));
        }

        return 0;
    }

    internal readonly record struct Result(double Iops, double MiBps, double MeanMicros);

    /// <summary>Writes the whole namespace once, 1 MiB at a time, eight writers on interleaved stripes.</summary>
    internal static async Task FillAsync(INamespaceDevice ns)
    {
        const int Chunk = 1 << 20;
        var blocks = (ulong)(Chunk / ns.LbaSize);
        var chunks = ns.BlockCount / blocks;
        var writers = new Task[8];
        for (var w = 0; w < writers.Length; w++)
        {
            var first = (ulong)w;
            writers[w] = Task.Run(async () =>
            {
                var buffer = new byte[Chunk];
                new Random((int)first).NextBytes(buffer);
                for (var c = first; c < chunks; c += (ulong)writers.Length)
                {
                    await ns.WriteAsync(c * blocks, buffer);
                }
            });
        }

        await Task.WhenAll(writers);
    }

    private static readonly System.Collections.Concurrent.ConcurrentDictionary<(int Worker, int Size), byte[]> WorkerBuffers = new();

    /// <summary>A worker's I/O buffer, made once per (worker, size), so a measured run allocates no data buffers.</summary>
    private static byte[] WorkerBuffer(int worker, int size) => WorkerBuffers.GetOrAdd((worker, size), static key =>
    {
        var buffer = new byte[key.Size];
        new Random(key.Worker).NextBytes(buffer);
        return buffer;
    });

    internal static async Task<Result> Run(INamespaceDevice ns, int size, int depth, bool write, double seconds)
    {
        var blocks = (ulong)(size / ns.LbaSize);
        var span = ns.BlockCount / blocks;
        var deadline = Stopwatch.GetTimestamp() + (long)(seconds * Stopwatch.Frequency);
        long ops = 0;
        long ticks = 0;
        var workers = new Task[depth];
        for (var w = 0; w < depth; w++)
        {
            var seed = w;
            workers[w] = Task.Run(async () =>
            {
                var buffer = WorkerBuffer(seed, size);
                var rng = new Random(seed + 100);
                long myOps = 0, myTicks = 0;
                while (Stopwatch.GetTimestamp() < deadline)
                {
                    var lba = (ulong)rng.NextInt64((long)span) * blocks;
                    var t0 = Stopwatch.GetTimestamp();
                    if (write)
                    {
                        await ns.WriteAsync(lba, buffer);
                    }
                    else
                    {
                        await ns.ReadAsync(lba, buffer);
                    }

                    myTicks += Stopwatch.GetTimestamp() - t0;
                    myOps++;
                }

                Interlocked.Add(ref ops, myOps);
                Interlocked.Add(ref ticks, myTicks);
            });
        }

        var start = Stopwatch.GetTimestamp();
        await Task.WhenAll(workers);
        var elapsed = Stopwatch.GetElapsedTime(start).TotalSeconds;
        return new Result(ops / elapsed, ops * (double)size / elapsed / (1 << 20), ticks * 1e6 / Stopwatch.Frequency / Math.Max(1, ops));
    }

    /// <summary>A target reachable through the carrier under test, and the client's connection factory.</summary>
    internal sealed class Setup : IAsyncDisposable
    {
        private NvmeTargetServer? _server;
        private TargetRegistry? _registry;
        private readonly List<(TargetQueue Queue, Task Run)> _memoryQueues = [];
        private readonly CancellationTokenSource _cts = new();
        private NvmePskKeyring? _keyring;

        public int Port { get; private set; } = 4420;

        /// <summary>The PSK of a TLS carrier, null for a plain one.</summary>
        public string? Psk { get; private set; }

        public NvmeQueueConnector Factory { get; private set; } = NvmeConnectionFactory.Instance;

        public static async Task<Setup> CreateAsync(string carrier)
        {
            var setup = new Setup();
            var registry = new TargetRegistry(new TargetLimits());
            var subsystem = new Subsystem(Nqn, "BENCH", "NvmeMptls Bench", isDiscovery: false, HostAccess.Any);
            subsystem.AddNamespace(new TargetNamespace(1, new MemoryBlockDevice(NamespaceBytes, 512), Guid.NewGuid(), Guid.NewGuid(), false));
            registry.AddSubsystem(subsystem);
            setup._registry = registry;
            var slash = carrier.IndexOf('/', StringComparison.Ordinal);
            var tls = slash > 0;
            var baseCarrier = tls ? carrier[(slash + 1)..] : carrier;
            var key = !tls ? null : carrier.StartsWith("tls384/", StringComparison.Ordinal) ? Key384 : Key;
            setup.Psk = key;
            if (baseCarrier == "memory")
            {
                var keyring = setup._keyring = new NvmePskKeyring();
                if (key is not null)
                {
                    keyring.Add(key);
                }

                var port = new TargetPortInfo(1, "memory", 0, PortTlsMode.None);
                setup.Factory = async (endpoint, ct) =>
                {
                    var (client, server) = MemoryConnection.CreatePair();
                    // The served queue outlives the connect attempt that ct bounds.
                    var serve = Task.Run(async () =>
                    {
                        StreamConnection s = server;
                        if (tls)
                        {
                            s = await NvmeTls.AcceptAsync(server, keyring, ct: CancellationToken.None);
                        }

                        var queue = new TargetQueue(s, registry, port, NullLogger.Instance);
                        await queue.RunAsync(setup._cts.Token);
                    }, CancellationToken.None);
                    setup._memoryQueues.Add((null!, serve));
                    if (!tls)
                    {
                        return client;
                    }

                    using var configured = ConfiguredPsk.Parse(key!);
                    using var psk = ClientPsk.Create(configured, endpoint.Options.HostNqn, Nqn);
                    return await NvmeTls.ConnectAsync(client, psk, ct: ct);
                };
                await Task.CompletedTask;
                return setup;
            }

            ConnectionSecurity? security = null;
            if (tls)
            {
                var options = TargetOptions.Default with { Tls = new TlsOptions { Keys = ImmutableArray.Create(new TlsKeyOptions { Key = key! }) } };
                security = TargetSecurity.Create(options, NullLoggerFactory.Instance);
            }

            setup._server = new NvmeTargetServer(registry, NullLoggerFactory.Instance, security);
            setup._server.StartPort(TargetBuilder.ToBinding(new PortOptions
            {
                Id = 1, Address = "127.0.0.1", Port = 0, DiscoveryPort = null,
                Multipath = baseCarrier == "mptcp" ? MultipathMode.Required : MultipathMode.Disabled,
                Tls = tls ? TlsMode.Required : TlsMode.None,
            }));
            setup.Port = setup._server.Endpoints[0].EndPoint.Port;
            var policy = baseCarrier == "mptcp" ? NvmeMultipathPolicy.Required : NvmeMultipathPolicy.Disabled;
            setup.Factory = (endpoint, ct) => NvmeConnectionFactory.Instance(endpoint with { Options = endpoint.Options with { Multipath = policy } }, ct);
            return setup;
        }

        public async ValueTask DisposeAsync()
        {
            await _cts.CancelAsync();
            if (_server is not null)
            {
                await _server.DisposeAsync();
            }

            foreach (var (_, run) in _memoryQueues)
            {
                await run.WaitAsync(TimeSpan.FromSeconds(5)).ContinueWith(static _ => { }, TaskScheduler.Default);
            }

            _ = _registry;
            _keyring?.Dispose();
            _cts.Dispose();
        }
    }
}
