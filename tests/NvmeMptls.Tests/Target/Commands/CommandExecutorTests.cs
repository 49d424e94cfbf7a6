using NvmeMptls.Target.Commands;
using NvmeMptls.Transport.Nvme;

namespace NvmeMptls.Tests.Target.Commands;

/// <summary>The command layer (Fabrics, admin dispatch, I/O) driven through its interface, with no socket and no PDUs.</summary>
public sealed class CommandExecutorTests
{
    [Test]
    public void Connect_AdminQueue_CreatesControllerAndBindsQueue()
    {
        var registry = FakeCommandQueue.Registry();
        var executor = FakeCommandQueue.Executor(registry, out var queue);
        var ctx = FakeCommandQueue.Arrive(executor, FakeCommandQueue.Connect(qid: 0, sqsize: 31), FakeCommandQueue.ConnectPayload(FakeCommandQueue.SubsystemNqn));

        Assert.That(FakeCommandQueue.Submit(executor, ctx).IsSuccess, Is.True);

        Assert.Multiple(() =>
        {
            Assert.That(queue.Sent, Is.EqualTo(new[] { ctx }));
            Assert.That(ctx.State, Is.EqualTo(CommandState.Completing));
            Assert.That(ctx.Completion.Status.IsSuccess, Is.True, ctx.Completion.Status.ToString());
            Assert.That(executor.Controller, Is.Not.Null);
            Assert.That(ctx.Completion.Dw0, Is.EqualTo((uint)executor.Controller!.ControllerId));
            Assert.That(executor.QueueId, Is.Zero);
            Assert.That(queue.Connected, Is.EqualTo(((ushort)0, 32, false)));
            Assert.That(registry.Counters.ControllersCreated, Is.EqualTo(1));
        });
    }

    [Test]
    public void Connect_UnknownSubsystem_RefusedAtSubNqnWithoutBinding()
    {
        var registry = FakeCommandQueue.Registry();
        var executor = FakeCommandQueue.Executor(registry, out var queue);
        var ctx = FakeCommandQueue.Arrive(executor, FakeCommandQueue.Connect(qid: 0, sqsize: 31), FakeCommandQueue.ConnectPayload("nqn.2026-01.io.nvmemptls:nope"));

        FakeCommandQueue.Submit(executor, ctx);

        Assert.Multiple(() =>
        {
            Assert.That(ctx.Completion.Status, Is.EqualTo(NvmeStatus.Make(1, 0x82, dnr: true)));
            Assert.That(ctx.Completion.Dw0, Is.EqualTo(0x10000u | ConnectData.SubNqnOffset));
            Assert.That(executor.Controller, Is.Null);
            Assert.That(queue.Connected, Is.Null);
            Assert.That(registry.Counters.ConnectRejected, Is.EqualTo(1));
        });
    }

    [Test]
    public void Fabrics_DataFollowingCapsule_RefusedBeforeAnyDataIsFetched()
    {
        var executor = FakeCommandQueue.Executor(FakeCommandQueue.Registry(), out var queue);
        var ctx = FakeCommandQueue.Arrive(executor, FakeCommandQueue.Connect(qid: 0, sqsize: 31), length: ConnectData.Size, dataFollows: true);

        Assert.That(executor.Admit(ctx), Is.EqualTo(NvmeStatus.Make(0, 0x0F, dnr: true)));
        Assert.That(queue.Sent, Is.Empty, "admission decides; the transport completes");
    }

    [Test]
    public void Io_BeforeConnect_AdmitReturnsCommandSequenceError()
    {
        var executor = FakeCommandQueue.Executor(FakeCommandQueue.Registry(), out _);
        var ctx = FakeCommandQueue.Arrive(executor, FakeCommandQueue.Io(IoOpcodes.Read, 0, 0, 512));

        Assert.That(executor.Admit(ctx), Is.EqualTo(NvmeStatus.Make(0, 0x0C, dnr: true)));
    }

    [Test]
    public void Io_LbaBeyondNamespace_AdmitRefusesBeforeTheDataIsFetched()
    {
        var (io, queue) = ConnectIoQueue();
        var ctx = FakeCommandQueue.Arrive(io, FakeCommandQueue.Io(IoOpcodes.Write, 2047, 1, 1024), length: 1024, dataFollows: true);

        Assert.That(io.Admit(ctx), Is.EqualTo(NvmeStatus.Make(0, 0x80, dnr: true)));
        Assert.That(queue.Sent, Is.Empty);
    }

    [Test]
    public void Io_TransferLengthDisagreeingWithNlb_AdmitReturnsSglDataLengthInvalid()
    {
        var (io, _) = ConnectIoQueue();
        var ctx = FakeCommandQueue.Arrive(io, FakeCommandQueue.Io(IoOpcodes.Read, 0, 0, 4096), length: 4096);

        Assert.That(io.Admit(ctx), Is.EqualTo(NvmeStatus.Make(0, 0x0F, dnr: true)));
    }

    [Test]
    public void Io_WriteThenRead_MemoryNamespace_CompletesInlineWithTheData()
    {
        var (io, queue) = ConnectIoQueue();
        var data = new byte[1024];
        new Random(11).NextBytes(data);
        var write = FakeCommandQueue.Arrive(io, FakeCommandQueue.Io(IoOpcodes.Write, 5, 1, 1024) with { SglIdentifier = SglDescriptor.InCapsuleIdentifier }, data);
        Assert.That(FakeCommandQueue.Submit(io, write).IsSuccess, Is.True);

        var read = FakeCommandQueue.Arrive(io, FakeCommandQueue.Io(IoOpcodes.Read, 5, 1, 1024), length: 1024);
        Assert.That(FakeCommandQueue.Submit(io, read).IsSuccess, Is.True);

        Assert.Multiple(() =>
        {
            Assert.That(queue.Sent, Is.EqualTo(new[] { write, read }), "memory completes on the submitting thread");
            Assert.That(write.Completion.Status.IsSuccess, Is.True, write.Completion.Status.ToString());
            Assert.That(read.Completion.Status.IsSuccess, Is.True, read.Completion.Status.ToString());
            Assert.That(read.ResponseData.ToArray(), Is.EqualTo(data));
        });
    }

    /// <summary>An admin queue brought up (Connect, CC.EN) and an I/O queue joined to its controller.</summary>
    private static (CommandExecutor Io, FakeCommandQueue Queue) ConnectIoQueue()
    {
        var registry = FakeCommandQueue.Registry();
        var admin = FakeCommandQueue.Executor(registry, out _);
        FakeCommandQueue.Submit(admin, FakeCommandQueue.Arrive(admin, FakeCommandQueue.Connect(0, 31), FakeCommandQueue.ConnectPayload(FakeCommandQueue.SubsystemNqn)));
        var controller = admin.Controller ?? throw new AssertionException("admin Connect failed");
        var io = FakeCommandQueue.Executor(registry, out var queue);
        var connect = FakeCommandQueue.Arrive(io, FakeCommandQueue.Connect(1, 127), FakeCommandQueue.ConnectPayload(FakeCommandQueue.SubsystemNqn, controller.ControllerId));
        FakeCommandQueue.Submit(io, connect);
        Assert.That(connect.Completion.Status.IsSuccess, Is.True, connect.Completion.Status.ToString());
        queue.Sent.Clear();
        return (io, queue);
    }
}
