using BenchmarkDotNet.Attributes;
using NvmeMptls.Initiator;

namespace NvmeMptls.Bench.Micro;

/// <summary>
/// The whole stack without sockets: our client library against a target engine queue over an in-memory pipe pair
/// (plain, or TLS over it), one I/O queue, one command in flight. The memory diagnoser's bytes per operation are the
/// both-sides allocation per I/O.
/// </summary>
[MemoryDiagnoser]
public class InProcessPairBenchmarks
{
    private Program.Setup _setup = null!;
    private NvmeController _controller = null!;
    private NvmeNamespace _ns = null!;
    private byte[] _buffer = null!;

    [Params("memory", "tls/memory")]
    public string Carrier { get; set; } = "memory";

    [Params(4096, 128 * 1024)]
    public int Size { get; set; }

    [GlobalSetup]
    public async Task SetupAsync()
    {
        _setup = await Program.Setup.CreateAsync(Carrier).ConfigureAwait(false);
        _controller = await NvmeController.ConnectAsync(NvmeControllerOptions.Default with
        {
            TargetPort = _setup.Port,
            SubsystemNqn = "nqn.2026-01.io.nvmemptls:bench",
            IoQueueCount = 1,
            QueueSize = 64,
            Tls = _setup.Psk is not null,
            TlsKey = _setup.Psk,
        }, _setup.Factory).ConfigureAwait(false);
        _ns = await _controller.OpenNamespaceAsync(1).ConfigureAwait(false);
        _buffer = new byte[Size];
        Random.Shared.NextBytes(_buffer);
        await _ns.WriteAsync(0, _buffer).ConfigureAwait(false);
    }

    [GlobalCleanup]
    public async Task CleanupAsync()
    {
        await _controller.DisposeAsync().ConfigureAwait(false);
        await _setup.DisposeAsync().ConfigureAwait(false);
    }

    [Benchmark]
    public ValueTask Read() => _ns.ReadAsync(0, _buffer);

    [Benchmark]
    public ValueTask Write() => _ns.WriteAsync(0, _buffer);
}
