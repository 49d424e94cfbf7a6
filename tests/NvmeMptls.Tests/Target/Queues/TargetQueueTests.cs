using System.Buffers.Binary;
using NvmeMptls.Target.Subsystems;
using NvmeMptls.Target.Tcp;
using NvmeMptls.TestKit;
using NvmeMptls.Transport.Nvme;
using NvmeMptls.Transport.Pdu;

namespace NvmeMptls.Tests.Target.Queues;

/// <summary>The target's queue engine driven over in-memory pipes.</summary>
[TestFixture(QueueSendMode.Burst)]
[TestFixture(QueueSendMode.Loop)]
public sealed class TargetQueueTests(QueueSendMode mode)
{
    private TargetLimits Limits(TargetLimits? limits = null) => (limits ?? new TargetLimits()) with { SendMode = mode };

    internal static async Task<(RawNvmeHost Admin, RawNvmeHost Io)> ConnectAsync(InMemoryTarget target, bool hd = false, bool dd = false, byte hpda = 0)
    {
        var admin = target.Connect();
        await admin.BringUpAdminAsync(InMemoryTarget.SubsystemNqn);
        var nq = await admin.ExecuteAsync(admin.Command(AdminOpcodes.SetFeatures, cdw10: FeatureIds.NumberOfQueues, cdw11: 0x00030003), default, null);
        Assert.That(nq.Status.IsSuccess, Is.True);
        var io = target.Connect();
        await io.InitializeAsync(hd, dd, hpda);
        var c = await io.ConnectAsync(InMemoryTarget.SubsystemNqn, 1, 127, admin.ControllerId);
        Assert.That(c.Status.IsSuccess, Is.True, c.Status.ToString());
        return (admin, io);
    }

    [Test]
    public async Task IdentifyController_AfterBringUp_DescribesSubsystem()
    {
        await using var target = new InMemoryTarget(Limits());
        var admin = target.Connect();
        await admin.BringUpAdminAsync(InMemoryTarget.SubsystemNqn);
        var page = new byte[4096];
        var cqe = await admin.ExecuteAsync(admin.Command(AdminOpcodes.Identify, cdw10: 1, length: 4096), default, page);
        Assert.That(cqe.Status.IsSuccess, Is.True);
        var id = IdentifyController.Read(page);
        Assert.Multiple(() =>
        {
            Assert.That(id.SubsystemNqn, Is.EqualTo(InMemoryTarget.SubsystemNqn));
            Assert.That(id.Serial, Is.EqualTo("TESTSERIAL"));
            Assert.That(id.ControllerId, Is.EqualTo(admin.ControllerId));
            Assert.That(id.MaxCmd, Is.Not.Zero);
            Assert.That(id.Sgls & 3, Is.EqualTo(1u));
            Assert.That(id.Ioccsz, Is.EqualTo((64u + 16384) / 16));
            Assert.That(id.ControllerType, Is.EqualTo(IdentifyController.TypeIo));
        });
    }

    [TestCase(false, false, (byte)0)]
    [TestCase(true, true, (byte)0)]
    [TestCase(true, true, (byte)7)]
    public async Task WriteThenRead_InCapsuleAndR2T_ReturnsSameData(bool hd, bool dd, byte hpda)
    {
        await using var target = new InMemoryTarget(Limits(new TargetLimits { MaxH2CData = 16384 }));
        var (_, io) = await ConnectAsync(target, hd, dd, hpda);
        var rng = new Random(3);
        foreach (var size in new[] { 512, 4096, 16384, 65536, 1 << 20 })
        {
            var data = new byte[size];
            rng.NextBytes(data);
            var blocks = (uint)(size / 512);
            var slba = (uint)rng.Next(0, 1000);
            var w = await io.ExecuteAsync(io.Command(IoOpcodes.Write, 1, slba, 0, blocks - 1), data, null, inCapsule: size <= 16384);
            Assert.That(w.Status.IsSuccess, Is.True, $"write {size}: {w.Status}");
            var back = new byte[size];
            var r = await io.ExecuteAsync(io.Command(IoOpcodes.Read, 1, slba, 0, blocks - 1, (uint)size), default, back);
            Assert.That(r.Status.IsSuccess, Is.True, $"read {size}: {r.Status}");
            Assert.That(back, Is.EqualTo(data), $"size {size}");
        }
    }

    [Test]
    public async Task Read_InactiveNamespace_ReturnsInvalidNamespaceWithDnr()
    {
        await using var target = new InMemoryTarget(Limits());
        var (_, io) = await ConnectAsync(target);
        var r = await io.ExecuteAsync(io.Command(IoOpcodes.Read, 7, 0, 0, 0, 512), default, new byte[512]);
        Assert.That(r.Status, Is.EqualTo(NvmeStatus.Make(0, 0x0B, dnr: true)));
    }

    [Test]
    public async Task Read_BeyondLastBlock_ReturnsLbaOutOfRangeWithDnr()
    {
        await using var target = new InMemoryTarget(Limits(), namespaceBytes: 1 << 20);
        var (_, io) = await ConnectAsync(target);
        var r = await io.ExecuteAsync(io.Command(IoOpcodes.Read, 1, 2047, 0, 1, 1024), default, new byte[1024]);
        Assert.That(r.Status, Is.EqualTo(NvmeStatus.Make(0, 0x80, dnr: true)));
        var ok = await io.ExecuteAsync(io.Command(IoOpcodes.Read, 1, 2047, 0, 0, 512), default, new byte[512]);
        Assert.That(ok.Status.IsSuccess, Is.True, "the queue goes on after an error");
    }

    [Test]
    public async Task UnknownIoOpcode_ReturnsInvalidOpcodeWithDnr()
    {
        await using var target = new InMemoryTarget(Limits());
        var (_, io) = await ConnectAsync(target);
        var r = await io.ExecuteAsync(io.Command(0x7E, 1), default, null);
        Assert.That(r.Status, Is.EqualTo(NvmeStatus.Make(0, 0x01, dnr: true)));
    }

    [Test]
    public async Task TransferLengthDisagreeingWithNlb_ReturnsSglDataLengthInvalid()
    {
        await using var target = new InMemoryTarget(Limits());
        var (_, io) = await ConnectAsync(target);
        var r = await io.ExecuteAsync(io.Command(IoOpcodes.Read, 1, 0, 0, 0, 4096), default, new byte[4096]);
        Assert.That(r.Status, Is.EqualTo(NvmeStatus.Make(0, 0x0F, dnr: true)));
    }

    [Test]
    public async Task UnsupportedSglType_ReturnsSglDescriptorTypeInvalid()
    {
        await using var target = new InMemoryTarget(Limits());
        var (_, io) = await ConnectAsync(target);
        var cmd = io.Command(IoOpcodes.Read, 1, 0, 0, 0, 512);
        cmd.SglIdentifier = 0x20;
        var r = await io.ExecuteAsync(cmd, default, new byte[512]);
        Assert.That(r.Status, Is.EqualTo(NvmeStatus.Make(0, 0x11, dnr: true)));
    }

    [Test]
    public async Task CommandBeforeConnect_ReturnsCommandSequenceError()
    {
        await using var target = new InMemoryTarget(Limits());
        var host = target.Connect();
        await host.InitializeAsync();
        var r = await host.ExecuteAsync(host.Command(AdminOpcodes.Identify, cdw10: 1, length: 4096), default, new byte[4096]);
        Assert.That(r.Status, Is.EqualTo(NvmeStatus.Make(0, 0x0C, dnr: true)));
    }

    [Test]
    public async Task Connect_UnknownSubsystem_ReturnsInvalidParametersPointingAtSubNqn()
    {
        await using var target = new InMemoryTarget(Limits());
        var host = target.Connect();
        await host.InitializeAsync();
        var r = await host.ConnectAsync("nqn.2026-01.io.nvmemptls:nope", 0, 31);
        Assert.That(r.Status, Is.EqualTo(NvmeStatus.Make(1, 0x82, dnr: true)));
        Assert.That(r.Dw0, Is.EqualTo(0x10100u));
    }

    [Test]
    public async Task Connect_HostNotAllowed_ReturnsInvalidHost()
    {
        await using var target = new InMemoryTarget(Limits());
        target.Subsystem.Access = new HostAccess(false, new HashSet<string> { "nqn.2014-08.org.nvmexpress:uuid:someone-else" });
        var host = target.Connect();
        await host.InitializeAsync();
        var r = await host.ConnectAsync(InMemoryTarget.SubsystemNqn, 0, 31);
        Assert.That(r.Status, Is.EqualTo(NvmeStatus.Make(1, 0x84, dnr: true)));
    }

    [Test]
    public async Task IoConnect_QidBeyondGranted_ReturnsInvalidParametersAtQid()
    {
        await using var target = new InMemoryTarget(Limits());
        var (admin, _) = await ConnectAsync(target);
        var extra = target.Connect();
        await extra.InitializeAsync();
        var r = await extra.ConnectAsync(InMemoryTarget.SubsystemNqn, 9, 127, admin.ControllerId);
        Assert.That(r.Status, Is.EqualTo(NvmeStatus.Make(1, 0x82, dnr: true)));
        Assert.That(r.Dw0, Is.EqualTo(42u));
    }

    [Test]
    public async Task IoConnect_DuplicateQid_ReturnsCommandSequenceError()
    {
        await using var target = new InMemoryTarget(Limits());
        var (admin, _) = await ConnectAsync(target);
        var dup = target.Connect();
        await dup.InitializeAsync();
        var r = await dup.ConnectAsync(InMemoryTarget.SubsystemNqn, 1, 127, admin.ControllerId);
        Assert.That(r.Status, Is.EqualTo(NvmeStatus.Make(0, 0x0C, dnr: true)));
    }

    [Test]
    public async Task IdentifyNamespace_InactiveNsid_ReturnsZeroesWithSuccess()
    {
        await using var target = new InMemoryTarget(Limits());
        var (admin, _) = await ConnectAsync(target);
        var page = new byte[4096];
        page.AsSpan().Fill(0xAA);
        var r = await admin.ExecuteAsync(admin.Command(AdminOpcodes.Identify, 5, cdw10: 0, length: 4096), default, page);
        Assert.That(r.Status.IsSuccess, Is.True);
        Assert.That(page.All(b => b == 0), Is.True);
    }

    [Test]
    public async Task WriteZeroesAndDeallocate_ReadBackZeroes()
    {
        await using var target = new InMemoryTarget(Limits());
        var (_, io) = await ConnectAsync(target);
        var data = Enumerable.Repeat((byte)0x5A, 8192).ToArray();
        Assert.That((await io.ExecuteAsync(io.Command(IoOpcodes.Write, 1, 100, 0, 15), data, null)).Status.IsSuccess, Is.True);
        Assert.That((await io.ExecuteAsync(io.Command(IoOpcodes.WriteZeroes, 1, 100, 0, 7), default, null)).Status.IsSuccess, Is.True);
        var range = new byte[16];
        BinaryPrimitives.WriteUInt32LittleEndian(range.AsSpan(4), 8);
        BinaryPrimitives.WriteUInt64LittleEndian(range.AsSpan(8), 108);
        Assert.That((await io.ExecuteAsync(io.Command(IoOpcodes.DatasetManagement, 1, 0, 4), range, null)).Status.IsSuccess, Is.True);
        var back = new byte[8192];
        Assert.That((await io.ExecuteAsync(io.Command(IoOpcodes.Read, 1, 100, 0, 15, 8192), default, back)).Status.IsSuccess, Is.True);
        Assert.That(back.All(b => b == 0), Is.True);
    }

    [Test]
    public async Task Compare_Mismatch_ReturnsCompareFailure()
    {
        await using var target = new InMemoryTarget(Limits());
        var (_, io) = await ConnectAsync(target);
        var data = Enumerable.Repeat((byte)1, 512).ToArray();
        await io.ExecuteAsync(io.Command(IoOpcodes.Write, 1, 0, 0, 0), data, null);
        Assert.That((await io.ExecuteAsync(io.Command(IoOpcodes.Compare, 1, 0, 0, 0), data, null)).Status.IsSuccess, Is.True);
        var other = Enumerable.Repeat((byte)2, 512).ToArray();
        Assert.That((await io.ExecuteAsync(io.Command(IoOpcodes.Compare, 1, 0, 0, 0), other, null)).Status, Is.EqualTo(NvmeStatus.Make(2, 0x85, dnr: true)));
    }

    [Test]
    public async Task NamespaceAdded_RaisesAerAndChangedNamespaceLogListsIt()
    {
        await using var target = new InMemoryTarget(Limits());
        var (admin, _) = await ConnectAsync(target);
        Assert.That((await admin.ExecuteAsync(admin.Command(AdminOpcodes.SetFeatures, cdw10: FeatureIds.AsyncEventConfig, cdw11: 1u << 8), default, null)).Status.IsSuccess, Is.True);
        var aer = admin.ExecuteAsync(admin.Command(AdminOpcodes.AsyncEventRequest), default, null);
        await Task.Delay(50);
        Assert.That(aer.IsCompleted, Is.False, "an AER is held until an event happens");
        target.Subsystem.AddNamespace(new TargetNamespace(2, new NvmeMptls.Target.Namespaces.MemoryBlockDevice(1 << 20, 512), Guid.NewGuid(), Guid.NewGuid(), false));
        var done = await aer.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.That(done.Dw0, Is.EqualTo(0x2u | (0x04u << 16)));
        var log = new byte[4096];
        var r = await admin.ExecuteAsync(admin.Command(AdminOpcodes.GetLogPage, cdw10: LogPageIds.ChangedNamespaceList | (1023u << 16), length: 4096), default, log);
        Assert.That(r.Status.IsSuccess, Is.True);
        Assert.That(BinaryPrimitives.ReadUInt32LittleEndian(log), Is.EqualTo(2u));
        Assert.That(BinaryPrimitives.ReadUInt32LittleEndian(log.AsSpan(4)), Is.Zero);
    }

    [Test]
    public async Task DiscoveryLog_WithOffsetAndLength_ReturnsHeaderThenEntries()
    {
        await using var target = new InMemoryTarget(Limits());
        var host = target.Connect();
        await host.InitializeAsync();
        Assert.That((await host.ConnectAsync(WellKnownNqns.Discovery, 0, 31)).Status.IsSuccess, Is.True);
        Assert.That((await host.PropertySetAsync(PropertyOffsets.Cc, 1)).Status.IsSuccess, Is.True);
        var header = new byte[20];
        Assert.That((await host.ExecuteAsync(host.Command(AdminOpcodes.GetLogPage, cdw10: LogPageIds.Discovery | (4u << 16), length: 20), default, header)).Status.IsSuccess, Is.True);
        var (gen, records) = DiscoveryLog.ReadHeader(header);
        Assert.That(records, Is.EqualTo(1UL));
        Assert.That(gen, Is.Not.Zero);
        var entry = new byte[1024];
        var cmd = host.Command(AdminOpcodes.GetLogPage, cdw10: LogPageIds.Discovery | (255u << 16), length: 1024);
        cmd.Cdw12 = 1024;
        Assert.That((await host.ExecuteAsync(cmd, default, entry)).Status.IsSuccess, Is.True);
        var e = DiscoveryLogEntry.Read(entry);
        Assert.Multiple(() =>
        {
            Assert.That(e.SubsystemNqn, Is.EqualTo(InMemoryTarget.SubsystemNqn));
            Assert.That(e.TransportType, Is.EqualTo(DiscoveryLogEntry.TrTypeTcp));
            Assert.That(e.TransportServiceId, Is.EqualTo("4420"));
            Assert.That(e.TransportAddress, Is.EqualTo("127.0.0.1"));
        });
    }

    /// <summary>
    /// A host that writes all its commands before it reads anything: 40 reads of 128 KiB (5 MiB of answers; the
    /// target's output pipe takes 1 MiB before its flush waits), then 80 writes with 16 KiB in the capsule (1.3 MB, more
    /// than the host's own pipe takes before its flush waits for the target to read). The target must read on while its
    /// answers wait for the host, or both sides wait for each other.
    /// </summary>
    [Test]
    public async Task HostWritesEverythingBeforeReading_TargetReadsOnAndAnswersAll()
    {
        await using var target = new InMemoryTarget(Limits(), namespaceBytes: 64L << 20);
        var (admin, io) = await ConnectAsync(target);
        const int Reads = 40;
        const int Writes = 80;
        var data = new byte[16384];
        for (var i = 0; i < Reads + Writes; i++)
        {
            var read = i < Reads;
            var length = read ? 128 * 1024 : data.Length;
            var cmd = io.Command(read ? IoOpcodes.Read : IoOpcodes.Write, 1, cdw10: (uint)(i * 256), cdw12: (uint)(length / 512 - 1), length: (uint)length);
            cmd.CommandId = (ushort)(i + 1);
            if (!read)
            {
                cmd.SglIdentifier = SglDescriptor.InCapsuleIdentifier;
            }

            io.Writer.WriteCapsuleCmd(cmd, read ? default : data);
        }

        await io.Writer.FlushAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(30));

        var answered = new HashSet<ushort>();
        var sink = new byte[128 * 1024];
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        while (answered.Count < Reads + Writes && await io.Reader.ReadHeaderAsync(deadline.Token))
        {
            if (io.Reader.Common.Type == PduType.C2HData)
            {
                var pdu = C2HDataPdu.Read(io.Reader.Header);
                Assert.That(await io.Reader.ReadDataAsync(sink.AsMemory(0, (int)pdu.DataLength), deadline.Token), Is.True);
                continue;
            }

            Assert.That(io.Reader.Common.Type, Is.EqualTo(PduType.CapsuleResp));
            var cqe = CapsuleRespPdu.ReadCompletion(io.Reader.Header);
            Assert.That(cqe.Status.IsSuccess, Is.True, $"command {cqe.CommandId}: {cqe.Status}");
            Assert.That(answered.Add(cqe.CommandId), Is.True, $"command {cqe.CommandId} answered twice");
        }

        Assert.That(answered, Has.Count.EqualTo(Reads + Writes));
        await io.DisposeAsync();
        await admin.DisposeAsync();
    }
}
