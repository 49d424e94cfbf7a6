using System.Collections.Concurrent;
using NvmeMptls.Initiator;
using NvmeMptls.Target.Namespaces;
using NvmeMptls.TestKit;
using NvmeMptls.Transport.Multipath;

namespace NvmeMptls.Tests.Bench;

/// <summary>
/// Fresh devices for the bench suites: the in-memory device at both LBA sizes and a real <see cref="NvmeNamespace"/>
/// connected over loopback TCP to an in-process <see cref="LoopbackTarget"/> (released by <see cref="BenchDevices"/>).
/// </summary>
public sealed class BenchDeviceFactory
{
    public BenchDeviceFactory(string name, Func<long, INamespaceDevice> create, double allocationBudgetPerIo = 8)
    {
        Name = name;
        Create = create;
        AllocationBudgetPerIo = allocationBudgetPerIo;
    }

    public string Name { get; }

    /// <summary>
    /// Managed bytes per I/O the whole test process may allocate in steady state: almost nothing for the memory device;
    /// for the loopback device the process also hosts the target and both socket loops (measured about 90 bytes/IO,
    /// each side separately in AllocationPerIoTests).
    /// </summary>
    public double AllocationBudgetPerIo { get; }

    public Func<long, INamespaceDevice> Create { get; }

    public static IEnumerable<BenchDeviceFactory> All()
    {
        yield return new BenchDeviceFactory("memory-512", size => new MemoryNamespaceDevice(size, lbaSize: 512));
        yield return new BenchDeviceFactory("memory-4096", size => new MemoryNamespaceDevice(size, lbaSize: 4096, maxTransferBytes: 64 * 1024));
        yield return new BenchDeviceFactory("nvme-tcp-loopback", size => BenchDevices.ConnectAsync(size).GetAwaiter().GetResult(), allocationBudgetPerIo: 512);

        // The same path with a file namespace behind it, once per I/O engine: io_uring (O_DIRECT in /var/tmp) and pread/pwrite.
        yield return new BenchDeviceFactory("nvme-tcp-loopback-file-io_uring", size => BenchDevices.ConnectFileAsync(size, IoEngine.IoUring).GetAwaiter().GetResult(),
            allocationBudgetPerIo: 512);
        yield return new BenchDeviceFactory("nvme-tcp-loopback-file-positional", size => BenchDevices.ConnectFileAsync(size, IoEngine.Positional).GetAwaiter().GetResult(),
            allocationBudgetPerIo: 512);
    }

    /// <summary>
    /// A device with media-error injection: the memory device itself, or, on the real path, a namespace whose
    /// target-side backing fails the chosen blocks (the error then crosses NVMe/TCP as a status; a faulty memory
    /// backing also for the file factories, whose files cannot fail on demand).
    /// </summary>
    public (INamespaceDevice Device, IFaultInjector Faults) CreateInjectable(long size)
    {
        if (Name.StartsWith("memory", StringComparison.Ordinal))
        {
            var memory = (MemoryNamespaceDevice)Create(size);
            return (memory, memory);
        }

        FaultyBlockDevice? backing = null;
        var device = BenchDevices.ConnectAsync(size, bytes => backing = new FaultyBlockDevice(bytes)).GetAwaiter().GetResult();
        return (device, backing!);
    }

    public override string ToString() => Name;
}

/// <summary>Owns the loopback targets and controllers made for the bench tests and closes them when the namespace's tests end.</summary>
[SetUpFixture]
public sealed class BenchDevices
{
    private static readonly ConcurrentBag<IAsyncDisposable> s_live = [];

    public static async Task<INamespaceDevice> ConnectAsync(long size, Func<long, NvmeMptls.Target.Namespaces.IBlockDevice>? backing = null)
    {
        var target = LoopbackTarget.Start(size, backing: backing);
        s_live.Add(target);
        var controller = await NvmeController.ConnectAsync(target.ClientOptions with { IoQueueCount = 2, QueueSize = 64 });
        s_live.Add(controller);
        return await controller.OpenNamespaceAsync(1);
    }

    /// <summary>A loopback target whose namespace is a fresh file in /var/tmp (deleted at the end), opened with <paramref name="engine"/>.</summary>
    public static async Task<INamespaceDevice> ConnectFileAsync(long size, IoEngine engine)
    {
        string path = Path.Combine(NvmeMptls.Tests.Target.Namespaces.IoUringTestDirectory.Root, "nvmemptls-bench-" + Guid.NewGuid().ToString("N") + ".img");
        s_live.Add(new DeleteFile(path));
        return await ConnectAsync(size, bytes =>
        {
            var device = FileBlockDevice.Open(path, bytes, engine: engine);
            Assert.That(device.UsesIoUring, Is.EqualTo(engine == IoEngine.IoUring), device.Engine);
            return device;
        });
    }

    [OneTimeTearDown]
    public static async Task CloseAll()
    {
        // Controllers were added after their targets; closing in reverse order disconnects before the target stops.
        foreach (var item in s_live.Reverse())
        {
            await item.DisposeAsync();
        }

        s_live.Clear();
    }
}

/// <summary>Deletes a bench file once the target using it is gone (disposed after it, in reverse order).</summary>
internal sealed class DeleteFile(string path) : IAsyncDisposable
{
    public ValueTask DisposeAsync()
    {
        File.Delete(path);
        return ValueTask.CompletedTask;
    }
}
