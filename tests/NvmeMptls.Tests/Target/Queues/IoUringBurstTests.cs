using NvmeMptls.Target.Namespaces;
using NvmeMptls.Target.Subsystems;
using NvmeMptls.Target.Tcp;
using NvmeMptls.TestKit;
using NvmeMptls.Tests.Target.Commands;
using NvmeMptls.Tests.Target.Namespaces;
using NvmeMptls.Transport.Nvme;
using NvmeMptls.Transport.Pdu;

namespace NvmeMptls.Tests.Target.Queues;

/// <summary>
/// The queue engine over an io_uring file namespace: the commands of one receive burst reach the kernel together
/// (one io_uring_enter, so one doorbell on a virtio disk, instead of one per command), in both send modes, and every
/// command still completes with its own data.
/// </summary>
[TestFixture(QueueSendMode.Burst)]
[TestFixture(QueueSendMode.Loop)]
public sealed class IoUringBurstTests(QueueSendMode mode)
{
    private const uint FileNsid = PreemptAndAbortWireTests.Nsid; // the reservation helpers' namespace
    private const int Block = 4096;
    private const int Commands = 16;

    private string _path = "";
    private FileBlockDevice _device = null!;
    private InMemoryTarget _target = null!;
    private RawNvmeHost _admin = null!;
    private RawNvmeHost _io = null!;

    [SetUp]
    public async Task SetUp()
    {
        if (!OperatingSystem.IsLinux())
        {
            Assert.Ignore("io_uring is Linux only");
        }

        _path = Path.Combine(IoUringTestDirectory.Root, "nvmemptls-queue-uring-" + Guid.NewGuid().ToString("N") + ".img");
        _device = FileBlockDevice.Open(_path, 1 << 20, engine: IoEngine.IoUring);
        if (!_device.UsesIoUring)
        {
            await _device.DisposeAsync();
            File.Delete(_path);
            Assert.Ignore(_device.Engine);
        }

        _target = new InMemoryTarget(new TargetLimits { SendMode = mode });
        _target.Subsystem.AddNamespace(new TargetNamespace(FileNsid, _device, Guid.NewGuid(), Guid.NewGuid(), readOnly: false));
        _admin = _target.Connect();
        await _admin.BringUpAdminAsync(InMemoryTarget.SubsystemNqn);
        Assert.That((await _admin.SetFeatureAsync(FeatureIds.NumberOfQueues, 0)).Status.IsSuccess, Is.True);
        _io = _target.Connect();
        await _io.InitializeAsync();
        Assert.That((await _io.ConnectAsync(InMemoryTarget.SubsystemNqn, 1, 127, _admin.ControllerId)).Status.IsSuccess, Is.True);
    }

    [TearDown]
    public async Task TearDown()
    {
        if (_target is null)
        {
            return;
        }

        await _io.DisposeAsync();
        await _admin.DisposeAsync();
        await _target.DisposeAsync();
        await _device.DisposeAsync();
        File.Delete(_path);
    }

    [Test]
    public async Task ReadsSentInOneBurst_GoToTheKernelTogether_EachWithItsOwnBlock()
    {
        var blocks = new byte[Commands][];
        for (var n = 0; n < Commands; n++)
        {
            blocks[n] = BlockDeviceWorkload.Pattern(Block, 40 + n);
            var write = await _io.WriteAsync(FileNsid, (ulong)n * (Block / 512), blocks[n]).WaitAsync(TimeSpan.FromSeconds(30));
            Assert.That(write.Status.IsSuccess, Is.True, $"write {n}");
        }

        var before = _device.RingSubmissions;

        // Sixteen read capsules in one send: the target reads them as one burst.
        for (var n = 0; n < Commands; n++)
        {
            var read = _io.Command(IoOpcodes.Read, FileNsid, cdw10: (uint)(n * (Block / 512)), cdw12: (Block / 512) - 1, length: Block);
            read.CommandId = (ushort)(100 + n);
            _io.Writer.WriteCapsuleCmd(read, default);
        }

        await _io.Writer.FlushAsync();
        var back = await ReadCompletionsAsync().WaitAsync(TimeSpan.FromSeconds(30));
        for (var n = 0; n < Commands; n++)
        {
            Assert.That(back[n], Is.EqualTo(blocks[n]), $"read {n}");
        }

        // The counters move after io_uring_enter returns, which may be after the answers reached us.
        Assert.That(() => _device.RingSubmissions.Entries - before.Entries, Is.EqualTo(Commands).After(5000, 10), "one entry per read");
        var calls = _device.RingSubmissions.Calls - before.Calls;
        Assert.That(calls, Is.LessThan(Commands / 2), $"{calls} io_uring_enter calls for {Commands} reads of one burst");

        // Burst mode: the reaper sent the answers itself, once per batch of completions; loop mode keeps its send task.
        var deferred = _target.QueueOf(1).DeferredDrains;
        Assert.That(deferred, mode == QueueSendMode.Burst ? Is.GreaterThan(0) : Is.Zero, "answers drained by the reaper");
    }

    [Test]
    public async Task TheLoopEndsInsideABurst_ItsHeldBackReadsStillGoToTheKernel()
    {
        var before = _device.RingSubmissions;
        for (var n = 0; n < Commands; n++)
        {
            var read = _io.Command(IoOpcodes.Read, FileNsid, cdw10: (uint)(n * (Block / 512)), cdw12: (Block / 512) - 1, length: Block);
            read.CommandId = (ushort)(100 + n);
            _io.Writer.WriteCapsuleCmd(read, default);
        }

        // A PDU of an unknown type right behind them, in the same send: the receive loop ends before its burst does.
        await _io.SendRawAsync(RawNvmeHost.Header((PduType)0x0A, 0, 24, 0, 24, 24));
        Assert.That(() => _device.RingSubmissions.Entries - before.Entries, Is.EqualTo(Commands).After(10_000, 10),
            "the loop's end entered the held-back reads");
        Assert.That(await _io.ReadTermReqAsync().WaitAsync(TimeSpan.FromSeconds(30)), Is.Not.Null, "the bad PDU got its TermReq");
    }

    [Test]
    public async Task WritesThenAPreemptAndAbortInOneBurst_TheAcquireDoesNotWaitForItsOwnHeldBackWrites()
    {
        await using var b = await PreemptAndAbortWireTests.IoQueueAsync(_target, Guid.Parse("bbbbbbbb-1111-2222-3333-444444444444"));
        var register = new ReservationCommand(ReservationCommand.RegisterAction, false, ReservationType.None, 0);
        Assert.That(await PreemptAndAbortWireTests.SendAsync(_io, IoOpcodes.ReservationRegister, register, 0, 0xA), Is.EqualTo(NvmeStatus.Success));
        Assert.That(await PreemptAndAbortWireTests.SendAsync(b, IoOpcodes.ReservationRegister, register, 0, 0xB), Is.EqualTo(NvmeStatus.Success));
        var acquire = new ReservationCommand(ReservationCommand.AcquireAction, false, ReservationType.WriteExclusiveRegistrantsOnly, 0);
        Assert.That(await PreemptAndAbortWireTests.SendAsync(_io, IoOpcodes.ReservationAcquire, acquire, 0xA), Is.EqualTo(NvmeStatus.Success));

        // Four writes and a Preempt and Abort of B in one send: the writes are in the reservation gate with their
        // entries held back for the burst's end when the acquire waits for the gate to drain.
        for (var n = 0; n < 4; n++)
        {
            var write = _io.Command(IoOpcodes.Write, FileNsid, cdw10: (uint)(n * (Block / 512)), cdw12: (Block / 512) - 1, length: Block);
            write.SglIdentifier = SglDescriptor.InCapsuleIdentifier;
            write.CommandId = (ushort)(200 + n);
            _io.Writer.WriteCapsuleCmd(write, BlockDeviceWorkload.Pattern(Block, 80 + n));
        }

        var preempt = _io.Command(IoOpcodes.ReservationAcquire, FileNsid,
            cdw10: new ReservationCommand(ReservationCommand.PreemptAndAbortAction, false, ReservationType.WriteExclusiveRegistrantsOnly, 0).ToCdw10(),
            length: 16);
        preempt.SglIdentifier = SglDescriptor.InCapsuleIdentifier;
        preempt.CommandId = 210;
        var keys = new byte[16];
        ReservationCommand.WriteKeys(keys, 0xA, 0xB);
        _io.Writer.WriteCapsuleCmd(preempt, keys);
        await _io.Writer.FlushAsync();

        // Far less than the 30 s the gate would wait for writes that nobody submits.
        var statuses = await ReadStatusesAsync(5).WaitAsync(TimeSpan.FromSeconds(10));
        Assert.That(statuses.Values, Is.All.EqualTo(NvmeStatus.Success));
        Assert.That(statuses.Keys, Is.EquivalentTo(new ushort[] { 200, 201, 202, 203, 210 }));
    }

    /// <summary>Reads <paramref name="count"/> CapsuleResp PDUs: status by command id.</summary>
    private async Task<Dictionary<ushort, NvmeStatus>> ReadStatusesAsync(int count)
    {
        var statuses = new Dictionary<ushort, NvmeStatus>();
        while (statuses.Count < count)
        {
            Assert.That(await _io.Reader.ReadHeaderAsync(), Is.True, "the target closed the connection");
            Assert.That(_io.Reader.Common.Type, Is.EqualTo(PduType.CapsuleResp));
            var cqe = CapsuleRespPdu.ReadCompletion(_io.Reader.Header);
            statuses[cqe.CommandId] = cqe.Status;
        }

        return statuses;
    }

    [Test]
    public async Task ConcurrentWritesAndReads_ThroughTheRing_EachReadReturnsItsOwnBlock()
    {
        var writes = await Task.WhenAll(Enumerable.Range(0, Commands)
            .Select(n => _io.WriteAsync(FileNsid, (ulong)n * (Block / 512), BlockDeviceWorkload.Pattern(Block, 60 + n))))
            .WaitAsync(TimeSpan.FromSeconds(30));
        Assert.That(writes.Select(c => c.Status.IsSuccess), Is.All.True);
        var reads = await Task.WhenAll(Enumerable.Range(0, Commands).Select(n => _io.ReadAsync(FileNsid, (ulong)n * (Block / 512), Block)))
            .WaitAsync(TimeSpan.FromSeconds(30));
        for (var n = 0; n < Commands; n++)
        {
            Assert.That(reads[n].Status.IsSuccess, Is.True, $"read {n}");
            Assert.That(reads[n].Data, Is.EqualTo(BlockDeviceWorkload.Pattern(Block, 60 + n)), $"block {n}");
        }
    }

    /// <summary>Reads the C2HData (and any CapsuleResp) of commands 100.. until each has succeeded.</summary>
    private async Task<byte[][]> ReadCompletionsAsync()
    {
        var data = new byte[Commands][];
        var done = 0;
        while (done < Commands)
        {
            Assert.That(await _io.Reader.ReadHeaderAsync(), Is.True, "the target closed the connection");
            switch (_io.Reader.Common.Type)
            {
                case PduType.C2HData:
                    var c2h = C2HDataPdu.Read(_io.Reader.Header);
                    var index = c2h.CommandId - 100;
                    Assert.That(c2h.DataOffset, Is.Zero);
                    data[index] = new byte[_io.Reader.DataLength];
                    Assert.That(await _io.Reader.ReadDataAsync(data[index]), Is.True, "data digest");
                    if ((_io.Reader.Common.Flags & PduFlags.Success) != 0)
                    {
                        done++;
                    }

                    break;
                case PduType.CapsuleResp:
                    var cqe = CapsuleRespPdu.ReadCompletion(_io.Reader.Header);
                    Assert.That(cqe.Status.IsSuccess, Is.True, $"command {cqe.CommandId}");
                    done++;
                    break;
                default:
                    Assert.Fail($"unexpected {_io.Reader.Common.Type}");
                    break;
            }
        }

        return data;
    }
}
