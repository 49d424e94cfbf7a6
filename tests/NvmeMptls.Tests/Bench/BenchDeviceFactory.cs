using NvmeMptls.Initiator;
using NvmeMptls.TestKit;

namespace NvmeMptls.Tests.Bench;

/// <summary>Fresh devices for the bench suites: the in-memory device at both LBA sizes, later the real client.</summary>
public sealed class BenchDeviceFactory
{
    public BenchDeviceFactory(string name, Func<long, INamespaceDevice> create)
    {
        Name = name;
        Create = create;
    }

    public string Name { get; }

    public Func<long, INamespaceDevice> Create { get; }

    public static IEnumerable<BenchDeviceFactory> All()
    {
        yield return new BenchDeviceFactory("memory-512", size => new MemoryNamespaceDevice(size, lbaSize: 512));
        yield return new BenchDeviceFactory("memory-4096", size => new MemoryNamespaceDevice(size, lbaSize: 4096, maxTransferBytes: 64 * 1024));
    }

    public override string ToString() => Name;
}
