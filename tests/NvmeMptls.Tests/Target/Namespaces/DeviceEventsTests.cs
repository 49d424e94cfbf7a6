using NvmeMptls.Target.Namespaces;
using NvmeMptls.Target.Subsystems;
using NvmeMptls.Tests.Target.Queues;
using NvmeMptls.TestKit;
using NvmeMptls.Transport.Nvme;

namespace NvmeMptls.Tests.Target.Namespaces;

/// <summary>
/// What a device that lives elsewhere (an RBD image) can tell the engine: "this path cannot reach me" becomes a
/// path-related status, and "I was resized" a new NSZE and a Namespace Attribute Changed notice.
/// </summary>
public sealed class DeviceEventsTests
{
    [Test]
    public async Task DevicePathException_CompletesWithInternalPathErrorWithoutDnr_AndTheQueueGoesOn()
    {
        await using var device = new RemoteDevice(1 << 20) { Unreachable = true };
        await using var target = AsNamespace2(device);
        var (_, io) = await TargetQueueTests.ConnectAsync(target);

        var write = await io.WriteAsync(2, 0, new byte[512]);
        var read = await io.ReadAsync(2, 0, 512);
        Assert.Multiple(() =>
        {
            Assert.That(write.Status, Is.EqualTo(NvmeStatus.Make(3, 0x00)), "write: SCT 3h Internal Path Error, no DNR");
            Assert.That(read.Status, Is.EqualTo(NvmeStatus.Make(3, 0x00)), "read: SCT 3h Internal Path Error, no DNR");
        });
        Assert.That((await io.ReadAsync(1, 0, 512)).Status.IsSuccess, Is.True, "the other namespace on the same queue still works");
    }

    [Test]
    public async Task DeviceResized_NszeFollowsAndNamespaceAttributeChangedIsSent()
    {
        await using var device = new RemoteDevice(1 << 20);
        await using var target = AsNamespace2(device);
        var (admin, io) = await TargetQueueTests.ConnectAsync(target);
        Assert.That((await admin.SetFeatureAsync(FeatureIds.AsyncEventConfig, AsyncEvent.ConfigNamespaceAttribute)).Status.IsSuccess, Is.True);
        var aer = admin.AsyncEventRequestAsync();

        device.Resize(2 << 20);
        var notice = await aer.WaitAsync(TimeSpan.FromSeconds(10));
        var changed = await admin.GetLogPageAsync(LogPageIds.ChangedNamespaceList, 4096);
        var identify = new byte[4096];
        var identified = await admin.ExecuteAsync(admin.Command(AdminOpcodes.Identify, 2, cdw10: IdentifyCns.Namespace, length: 4096), default, identify);
        var nsids = new List<uint>();
        NamespaceIdList.Read(changed.Data, nsids);
        Assert.Multiple(() =>
        {
            Assert.That(AsyncEvent.FromDw0(notice.Dw0), Is.EqualTo(AsyncEvent.NamespaceAttributeChanged));
            Assert.That(nsids, Does.Contain(2u));
            Assert.That(identified.Status.IsSuccess, Is.True);
            Assert.That(IdentifyNamespace.Read(identify).BlockCount, Is.EqualTo((ulong)(2 << 20) / 512), "NSZE after the resize");
        });
        Assert.That((await io.WriteAsync(2, (1 << 20) / 512, new byte[512])).Status.IsSuccess, Is.True, "a block past the old end is in range");
    }

    /// <summary>An in-memory target whose namespace 2 is <paramref name="device"/> (namespace 1 stays memory).</summary>
    private static InMemoryTarget AsNamespace2(IBlockDevice device)
    {
        var target = new InMemoryTarget();
        target.Subsystem.AddNamespace(new TargetNamespace(2, device, Guid.NewGuid(), Guid.NewGuid(), readOnly: false));
        return target;
    }

    /// <summary>Memory that can be resized or become unreachable, as an RBD image can.</summary>
    private sealed class RemoteDevice(long sizeBytes) : IBlockDevice
    {
        private readonly MemoryBlockDevice _inner = new(64L << 20, 512);
        private long _size = sizeBytes;

        public event Action<IBlockDevice>? SizeChanged;

        public bool Unreachable { get; init; }
        public string Kind => "remote";
        public bool CompletesInline => true;
        public string Description => "memory that moves";
        public long SizeBytes => Volatile.Read(ref _size);
        public int LogicalBlockSize => 512;

        public void Resize(long bytes)
        {
            Volatile.Write(ref _size, bytes);
            SizeChanged?.Invoke(this);
        }

        public ValueTask ReadAsync(long offset, Memory<byte> destination, CancellationToken cancellationToken = default) =>
            Reachable() ? _inner.ReadAsync(offset, destination, cancellationToken) : default;

        public ValueTask WriteAsync(long offset, ReadOnlyMemory<byte> source, bool forceUnitAccess, CancellationToken cancellationToken = default) =>
            Reachable() ? _inner.WriteAsync(offset, source, forceUnitAccess, cancellationToken) : default;

        public ValueTask FlushAsync(CancellationToken cancellationToken = default) => default;

        public ValueTask WriteZeroesAsync(long offset, long length, bool deallocate, CancellationToken cancellationToken = default) =>
            _inner.WriteZeroesAsync(offset, length, deallocate, cancellationToken);

        public ValueTask DeallocateAsync(long offset, long length, CancellationToken cancellationToken = default) =>
            _inner.DeallocateAsync(offset, length, cancellationToken);

        public ValueTask DisposeAsync() => _inner.DisposeAsync();

        private bool Reachable() => !Unreachable ? true : throw new DevicePathException("fenced");
    }
}
