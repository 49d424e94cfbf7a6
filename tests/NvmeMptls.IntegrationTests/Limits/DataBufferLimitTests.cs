using System.Security.Cryptography;
using NvmeMptls.Target.Server;
using NvmeMptls.Target.Subsystems;
using NvmeMptls.TestKit;
using NvmeMptls.Transport.Nvme;

namespace NvmeMptls.IntegrationTests.Limits;

/// <summary>
/// The data buffer caps make commands wait, never fail: writes whose R2T is delayed (MaxOutstandingR2T, the
/// connection's budget) and reads delayed by the process-wide budget all complete with the right data, and the
/// limit that held them back is counted.
/// </summary>
public sealed class DataBufferLimitTests
{
    private const int Block = 512;

    [Test]
    public async Task WritesByR2T_OverTheR2TAndConnectionCaps_AllCompleteWithTheirData()
    {
        var limits = new TargetLimits { MaxConnectionBufferedBytes = 1 << 20, MaxOutstandingR2T = 2 };
        await using var target = LoopbackTarget.Start(namespaceBytes: 64L << 20, limits: limits);
        await using var admin = await RawNvmeHost.OpenAsync(target.EndPoint, LoopbackTarget.SubsystemNqn, 0);
        await using var io = await RawNvmeHost.OpenAsync(target.EndPoint, LoopbackTarget.SubsystemNqn, 1, admin.ControllerId);

        const int Commands = 24;
        const int Size = 256 << 10;
        var data = new byte[Commands][];
        var writes = new List<Task<NvmeCompletion>>();
        for (var i = 0; i < Commands; i++)
        {
            data[i] = RandomNumberGenerator.GetBytes(Size);
            var cmd = io.Command(IoOpcodes.Write, 1, cdw10: (uint)(i * Size / Block), cdw12: (Size / Block) - 1);
            writes.Add(io.ExecuteAsync(cmd, data[i], null, inCapsule: false));
        }

        foreach (var w in await Task.WhenAll(writes))
        {
            Assert.That(w.Status.IsSuccess, Is.True, w.Status.ToString());
        }

        var reads = new List<Task<HostCompletion>>();
        for (var i = 0; i < Commands; i++)
        {
            reads.Add(io.ReadAsync(1, (ulong)(i * Size / Block), Size));
        }

        var done = await Task.WhenAll(reads);
        for (var i = 0; i < Commands; i++)
        {
            Assert.That(done[i].Status.IsSuccess, Is.True, done[i].Status.ToString());
            Assert.That(done[i].Data, Is.EqualTo(data[i]), $"read {i}");
        }

        var reached = target.Server.Registry.Counters.LimitsReached;
        Assert.That(reached[(int)LimitKind.OutstandingR2T], Is.GreaterThan(0), "no R2T was delayed");
        Assert.That(reached[(int)LimitKind.ConnectionBufferedBytes], Is.GreaterThan(0), "no read waited for the connection's budget");
        Assert.That(target.Server.Registry.Buffers.PeakBytesInUse, Is.LessThanOrEqualTo(2L << 20), "admin and I/O queue together");
    }

    [Test]
    public async Task ReadsAndWritesOnTwoQueues_OverTheProcessWideBudget_AllCompleteAndThePoolNeverPassesIt()
    {
        const long Budget = 2L << 20;
        var limits = new TargetLimits { MaxBufferedBytes = Budget, MaxConnectionBufferedBytes = Budget };
        await using var target = LoopbackTarget.Start(namespaceBytes: 64L << 20, limits: limits);
        await using var admin = await RawNvmeHost.OpenAsync(target.EndPoint, LoopbackTarget.SubsystemNqn, 0);
        await using var q1 = await RawNvmeHost.OpenAsync(target.EndPoint, LoopbackTarget.SubsystemNqn, 1, admin.ControllerId);
        await using var q2 = await RawNvmeHost.OpenAsync(target.EndPoint, LoopbackTarget.SubsystemNqn, 2, admin.ControllerId);

        const int PerQueue = 12;
        const int Size = 512 << 10;
        var expected = new Dictionary<int, byte[]>();
        var work = new List<Task>();
        foreach (var (queue, index) in new[] { (q1, 0), (q2, 1) })
        {
            for (var i = 0; i < PerQueue; i++)
            {
                var slot = (index * PerQueue) + i;
                var bytes = RandomNumberGenerator.GetBytes(Size);
                expected[slot] = bytes;
                var q = queue;
                work.Add(Task.Run(async () =>
                {
                    var cmd = q.Command(IoOpcodes.Write, 1, cdw10: (uint)(slot * Size / Block), cdw12: (Size / Block) - 1);
                    var w = await q.ExecuteAsync(cmd, bytes, null, inCapsule: false);
                    Assert.That(w.Status.IsSuccess, Is.True, w.Status.ToString());
                    var r = await q.ReadAsync(1, (ulong)(slot * Size / Block), Size);
                    Assert.That(r.Status.IsSuccess, Is.True, r.Status.ToString());
                    Assert.That(r.Data, Is.EqualTo(bytes), $"slot {slot}");
                }));
            }
        }

        await Task.WhenAll(work);
        Assert.That(target.Server.Registry.Counters.LimitsReached[(int)LimitKind.BufferedBytes], Is.GreaterThan(0), "nothing waited for the process-wide budget");
        Assert.That(target.Server.Registry.Buffers.PeakBytesInUse, Is.LessThanOrEqualTo(Budget));
    }
}
