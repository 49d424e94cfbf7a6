using NvmeMptls.Initiator;
using NvmeMptls.IntegrationTests.TestKit;
using NvmeMptls.TestKit;

namespace NvmeMptls.IntegrationTests.Nbd;

/// <summary>
/// Makes a fresh namespace device of a given size for a test. The NBD and bench suites run once per factory:
/// today the in-memory device with both LBA sizes; the real NVMe/TCP client joins the list when it exists.
/// </summary>
public sealed class DeviceFactory
{
    public DeviceFactory(string name, Func<long, INamespaceDevice> create)
    {
        Name = name;
        Create = create;
    }

    public string Name { get; }

    public Func<long, INamespaceDevice> Create { get; }

    public static IEnumerable<DeviceFactory> All()
    {
        yield return new DeviceFactory("memory-512", size => new MemoryNamespaceDevice(size, lbaSize: 512));
        yield return new DeviceFactory("memory-4096", size => new MemoryNamespaceDevice(size, lbaSize: 4096, maxTransferBytes: 256 * 1024));
    }

    public override string ToString() => Name;
}
