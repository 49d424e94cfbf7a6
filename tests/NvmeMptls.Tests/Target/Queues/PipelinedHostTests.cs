using NvmeMptls.Target.Tcp;
using NvmeMptls.Target.Subsystems;
using NvmeMptls.TestKit;
using NvmeMptls.Transport.Nvme;

namespace NvmeMptls.Tests.Target.Queues;

/// <summary>
/// The queue engine with several commands outstanding at once (the fake host's pipelined side, which the
/// service tests drive over TCP): an AER held while other commands complete, concurrent writes and reads.
/// </summary>
[TestFixture(QueueSendMode.Burst)]
[TestFixture(QueueSendMode.Loop)]
public sealed class PipelinedHostTests(QueueSendMode mode)
{
    private TargetLimits Limits(TargetLimits? limits = null) => (limits ?? new TargetLimits()) with { SendMode = mode };

    private InMemoryTarget _target = null!;
    private RawNvmeHost _admin = null!;
    private RawNvmeHost _io = null!;

    [SetUp]
    public async Task SetUp()
    {
        _target = new InMemoryTarget(Limits());
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
        await _io.DisposeAsync();
        await _admin.DisposeAsync();
        await _target.DisposeAsync();
    }

    [Test]
    public async Task OutstandingAer_OtherAdminCommandsStillComplete()
    {
        var aer = _admin.AsyncEventRequestAsync();

        var log = await _admin.GetLogPageAsync(LogPageIds.ChangedNamespaceList, 4096).WaitAsync(TimeSpan.FromSeconds(10));
        Assert.That(log.Status.IsSuccess, Is.True);
        Assert.That(log.Data, Has.Length.EqualTo(4096));
        Assert.That((await _admin.SetFeatureAsync(FeatureIds.AsyncEventConfig, 1u << 8)).Status.IsSuccess, Is.True);
        Assert.That(aer.IsCompleted, Is.False, "no event happened, so the AER stays outstanding");
    }

    [Test]
    public async Task ConcurrentWritesAndReads_EachReadReturnsItsOwnBlock()
    {
        var writes = await Task.WhenAll(Enumerable.Range(0, 16).Select(n => _io.WriteAsync(1, (ulong)n * 8, Block(n))));
        Assert.That(writes.Select(c => c.Status.IsSuccess), Is.All.True);
        var reads = await Task.WhenAll(Enumerable.Range(0, 16).Select(n => _io.ReadAsync(1, (ulong)n * 8, 4096)));
        for (var n = 0; n < reads.Length; n++)
        {
            Assert.That(reads[n].Data, Is.EqualTo(Block(n)), $"block {n}");
        }
    }

    [Test]
    public async Task HostDisposed_OutstandingCommandFailsWithIOException()
    {
        var aer = _admin.AsyncEventRequestAsync();
        await _admin.DisposeAsync();
        Assert.That(async () => await aer.WaitAsync(TimeSpan.FromSeconds(10)), Throws.InstanceOf<IOException>());
        Assert.That(_admin.Fault, Is.Not.Null);
    }

    private static byte[] Block(int n) => Enumerable.Repeat((byte)(n + 1), 4096).ToArray();
}
