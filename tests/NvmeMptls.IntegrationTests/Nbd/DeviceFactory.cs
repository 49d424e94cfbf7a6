using NvmeMptls.Initiator;
using NvmeMptls.IntegrationTests.TestKit;
using NvmeMptls.TestKit;

namespace NvmeMptls.IntegrationTests.Nbd;

/// <summary>A device under test with a way to look at what it stores, bypassing the path being tested.</summary>
public sealed class TestDevice : IAsyncDisposable
{
    private readonly Func<ValueTask> _dispose;

    public TestDevice(INamespaceDevice device, Func<long, int, byte[]> snapshot, Func<ValueTask> dispose, IFaultInjector faults)
    {
        Device = device;
        Snapshot = snapshot;
        _dispose = dispose;
        Faults = faults;
    }

    public INamespaceDevice Device { get; }

    /// <summary>Bytes as stored: the memory device's array, or the loopback target's namespace store.</summary>
    public Func<long, int, byte[]> Snapshot { get; }

    /// <summary>
    /// Media-error injection: the memory device itself, or on the real NVMe/TCP path the target's backing store
    /// (the error then reaches us as an NVMe status over the wire).
    /// </summary>
    public IFaultInjector Faults { get; }

    public ValueTask DisposeAsync() => _dispose();
}

/// <summary>
/// Makes a fresh namespace device of a given size for a test. The NBD and bench suites run once per factory:
/// the in-memory device with both LBA sizes, and a real <see cref="NvmeNamespace"/> connected over loopback TCP
/// to an in-process target (4 I/O queues).
/// </summary>
public sealed class DeviceFactory
{
    public DeviceFactory(string name, Func<long, Task<TestDevice>> create)
    {
        Name = name;
        CreateAsync = create;
    }

    public string Name { get; }

    public Func<long, Task<TestDevice>> CreateAsync { get; }

    public static IEnumerable<DeviceFactory> All()
    {
        yield return Memory("memory-512", size => new MemoryNamespaceDevice(size, lbaSize: 512));
        yield return Memory("memory-4096", size => new MemoryNamespaceDevice(size, lbaSize: 4096, maxTransferBytes: 256 * 1024));
        yield return new DeviceFactory("nvme-tcp-loopback", async size =>
        {
            FaultyBlockDevice? backing = null;
            var nvme = await NvmeLoopback.StartAsync(size, ioQueues: 4, queueSize: 128, backing: bytes => backing = new FaultyBlockDevice(bytes));
            return new TestDevice(nvme.Namespace, nvme.Snapshot, nvme.DisposeAsync, backing!);
        });
    }

    private static DeviceFactory Memory(string name, Func<long, MemoryNamespaceDevice> create) =>
        new(name, size =>
        {
            var device = create(size);
            return Task.FromResult(new TestDevice(device, device.Snapshot, () => ValueTask.CompletedTask, device));
        });

    public override string ToString() => Name;
}
