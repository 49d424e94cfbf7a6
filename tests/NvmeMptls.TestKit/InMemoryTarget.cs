using Microsoft.Extensions.Logging.Abstractions;
using NvmeMptls.Target.Namespaces;
using NvmeMptls.Target.Subsystems;
using NvmeMptls.Target.Tcp;
using NvmeMptls.Transport.Connections;

namespace NvmeMptls.TestKit;

/// <summary>A target registry with one subsystem and memory namespaces, served over in-memory connections.</summary>
public sealed class InMemoryTarget : IAsyncDisposable
{
    public const string SubsystemNqn = "nqn.2026-01.io.nvmemptls:test";
    private readonly List<(TargetQueue Queue, Task Run)> _queues = [];
    private readonly CancellationTokenSource _cts = new();

    public InMemoryTarget(TargetLimits? limits = null, long namespaceBytes = 64L << 20, int lbaSize = 512, TimeProvider? time = null,
        PortTlsMode portTls = PortTlsMode.None)
    {
        Port = new(1, "127.0.0.1", 4420, portTls);
        Registry = new TargetRegistry(limits ?? new TargetLimits(), time);
        Subsystem = new Subsystem(SubsystemNqn, "TESTSERIAL", "NvmeMptls Test", isDiscovery: false, HostAccess.Any);
        Subsystem.AddNamespace(new TargetNamespace(1, new MemoryBlockDevice(namespaceBytes, lbaSize), Guid.NewGuid(), Guid.NewGuid(), readOnly: false));
        Registry.AddSubsystem(Subsystem);
        Registry.AddPort(Port);
    }

    public TargetRegistry Registry { get; }
    public Subsystem Subsystem { get; }
    /// <summary>The one port the connections arrive on (TLS "none" unless the constructor says otherwise; the in-memory
    /// connections themselves carry no TLS).</summary>
    public TargetPortInfo Port { get; }

    /// <summary>Opens a connection to the target; the target side is served until disposal.</summary>
    public RawNvmeHost Connect() => new(Open());

    /// <summary>Opens a connection as if accepted on <paramref name="port"/> (another listener of the same target).</summary>
    public RawNvmeHost Connect(TargetPortInfo port) => new(Open(port));

    /// <summary>Opens a connection and returns the host's end (for a client library's connector); thread-safe.</summary>
    public StreamConnection Open() => Open(Port);

    /// <summary>Opens a connection served as accepted on <paramref name="port"/>; thread-safe.</summary>
    public StreamConnection Open(TargetPortInfo port)
    {
        var (host, target) = MemoryConnection.CreatePair();
        var queue = new TargetQueue(target, Registry, port, NullLogger.Instance);
        lock (_queues)
        {
            _queues.Add((queue, queue.RunAsync(_cts.Token)));
        }

        return host;
    }

    public Task RunOf(int index) => _queues[index].Run;

    public TargetQueue QueueOf(int index) => _queues[index].Queue;

    public async ValueTask DisposeAsync()
    {
        await _cts.CancelAsync();
        foreach (var (q, run) in _queues)
        {
            await q.AbortAsync("test over");
            await run.WaitAsync(TimeSpan.FromSeconds(5));
        }

        _cts.Dispose();
    }
}
