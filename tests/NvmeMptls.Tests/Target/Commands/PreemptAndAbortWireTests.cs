using NvmeMptls.Target.Namespaces;
using NvmeMptls.Target.Subsystems;
using NvmeMptls.TestKit;
using NvmeMptls.Transport.Nvme;

namespace NvmeMptls.Tests.Target.Commands;

/// <summary>
/// Preempt and Abort over the queue (NVMe Base 2.0 §7.3): host B's write is held on the device when host A preempts B's
/// registration with abort; A's Reservation Acquire completes only after B's write left the device, and B's next write
/// is refused. With a plain Preempt the acquire does not wait.
/// </summary>
public sealed class PreemptAndAbortWireTests
{
    private static readonly Guid HostA = Guid.Parse("aaaaaaaa-1111-2222-3333-444444444444");
    private static readonly Guid HostB = Guid.Parse("bbbbbbbb-1111-2222-3333-444444444444");
    private static readonly NvmeStatus Conflict = NvmeStatus.Make(0, 0x83, dnr: true);
    internal const uint Nsid = 2;

    /// <summary>An admin and an I/O queue of host <paramref name="hostId"/> (the admin queue stays open with the target).</summary>
    internal static async Task<RawNvmeHost> IoQueueAsync(InMemoryTarget target, Guid hostId)
    {
        var nqn = $"nqn.2014-08.org.nvmexpress:uuid:{hostId}";
        var admin = target.Connect();
        admin.ConnectHostId = hostId;
        await admin.InitializeAsync();
        Assert.That((await admin.ConnectAsync(InMemoryTarget.SubsystemNqn, 0, 31, hostNqn: nqn)).Status.IsSuccess, Is.True);
        await admin.EnableAsync();
        Assert.That((await admin.SetFeatureAsync(FeatureIds.NumberOfQueues, 0)).Status.IsSuccess, Is.True);
        var io = target.Connect();
        io.ConnectHostId = hostId;
        await io.InitializeAsync();
        Assert.That((await io.ConnectAsync(InMemoryTarget.SubsystemNqn, 1, 31, admin.ControllerId, nqn)).Status.IsSuccess, Is.True);
        return io;
    }

    /// <summary>A reservation command on namespace <see cref="Nsid"/> with its two keys in the capsule.</summary>
    internal static async Task<NvmeStatus> SendAsync(RawNvmeHost io, byte opcode, ReservationCommand fields, ulong key, ulong other = 0)
    {
        var data = new byte[16];
        ReservationCommand.WriteKeys(data, key, other);
        return (await io.ExecuteAsync(io.Command(opcode, Nsid, cdw10: fields.ToCdw10(), length: 16), data, null)).Status;
    }

    [TestCase(ReservationCommand.PreemptAndAbortAction, true)]
    [TestCase(ReservationCommand.PreemptAction, false)]
    public async Task WriteOnTheDevice_PreemptAndAbortWaitsForIt_PreemptDoesNot(byte action, bool waits)
    {
        await using var target = new InMemoryTarget();
        var device = new HeldWriteDevice(1 << 20);
        target.Subsystem.AddNamespace(new TargetNamespace(Nsid, device, Guid.NewGuid(), Guid.NewGuid(), readOnly: false));
        var a = await IoQueueAsync(target, HostA);
        var b = await IoQueueAsync(target, HostB);
        var register = new ReservationCommand(ReservationCommand.RegisterAction, false, ReservationType.None, 0);
        Assert.That(await SendAsync(a, IoOpcodes.ReservationRegister, register, 0, 0xA), Is.EqualTo(NvmeStatus.Success));
        Assert.That(await SendAsync(b, IoOpcodes.ReservationRegister, register, 0, 0xB), Is.EqualTo(NvmeStatus.Success));
        var registrantsOnly = new ReservationCommand(ReservationCommand.AcquireAction, false, ReservationType.WriteExclusiveRegistrantsOnly, 0);
        Assert.That(await SendAsync(a, IoOpcodes.ReservationAcquire, registrantsOnly, 0xA), Is.EqualTo(NvmeStatus.Success));

        var write = b.WriteAsync(Nsid, 0, new byte[512]);
        await device.WriteEntered.WaitAsync(TimeSpan.FromSeconds(30));
        var preempt = SendAsync(a, IoOpcodes.ReservationAcquire, new ReservationCommand(action, false, ReservationType.WriteExclusiveRegistrantsOnly, 0), 0xA, 0xB);
        if (waits)
        {
            await Task.Delay(500);
            Assert.That(preempt.IsCompleted, Is.False, "Preempt and Abort waits while B's write is on the device");
        }
        else
        {
            Assert.That(await preempt.WaitAsync(TimeSpan.FromSeconds(30)), Is.EqualTo(NvmeStatus.Success), "a plain Preempt does not wait");
        }

        device.Release();
        Assert.That((await write.WaitAsync(TimeSpan.FromSeconds(30))).Status, Is.EqualTo(NvmeStatus.Success), "B's write was already on the device");
        Assert.That(await preempt.WaitAsync(TimeSpan.FromSeconds(30)), Is.EqualTo(NvmeStatus.Success));
        Assert.That((await b.WriteAsync(Nsid, 0, new byte[512])).Status, Is.EqualTo(Conflict), "B is no registrant any more");
        Assert.That(target.Subsystem.FindNamespace(Nsid)!.Reservations.InGate, Is.Zero);
    }

    /// <summary>Memory whose first write is held on the device until <see cref="Release"/>.</summary>
    private sealed class HeldWriteDevice(long size) : IBlockDevice
    {
        private readonly MemoryBlockDevice _inner = new(size, 512);
        private readonly TaskCompletionSource _entered = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly TaskCompletionSource _released = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Task WriteEntered => _entered.Task;

        public string Kind => "held-memory";

        public bool CompletesInline => true;

        public string Description => "memory with a held write";

        public long SizeBytes => _inner.SizeBytes;

        public int LogicalBlockSize => 512;

        public event Action<IBlockDevice>? SizeChanged
        {
            add { }
            remove { }
        }

        public void Release() => _released.TrySetResult();

        public ValueTask ReadAsync(long offset, Memory<byte> destination, CancellationToken cancellationToken = default) => _inner.ReadAsync(offset, destination, cancellationToken);

        public async ValueTask WriteAsync(long offset, ReadOnlyMemory<byte> source, bool forceUnitAccess, CancellationToken cancellationToken = default)
        {
            _entered.TrySetResult();
            await _released.Task.ConfigureAwait(false);
            await _inner.WriteAsync(offset, source, forceUnitAccess, cancellationToken).ConfigureAwait(false);
        }

        public ValueTask FlushAsync(CancellationToken cancellationToken = default) => _inner.FlushAsync(cancellationToken);

        public ValueTask WriteZeroesAsync(long offset, long length, bool deallocate, CancellationToken cancellationToken = default) =>
            _inner.WriteZeroesAsync(offset, length, deallocate, cancellationToken);

        public ValueTask DeallocateAsync(long offset, long length, CancellationToken cancellationToken = default) => _inner.DeallocateAsync(offset, length, cancellationToken);

        public ValueTask DisposeAsync() => _inner.DisposeAsync();
    }
}
