using System.Diagnostics;
using NvmeMptls.Target.Server;
using NvmeMptls.Target.Subsystems;
using NvmeMptls.TestKit;
using NvmeMptls.Transport.Connections;
using NvmeMptls.Transport.Multipath;
using NvmeMptls.Transport.Nvme;
using NvmeMptls.Transport.Sockets;

namespace NvmeMptls.IntegrationTests.Limits;

/// <summary>
/// Issue 12 "pinned buffers": 512 outstanding 1 MiB reads on one queue (a host that does not read its data) raised the
/// target's RSS by 509 MiB, still held after the connection closed. Now the connection's data buffers are capped
/// (Target:Limits:MaxConnectionBufferedBytes, 64 MiB by default) and idle pooled buffers go back to the OS
/// (BufferIdleTrim). RSS is the test process's (the target runs in it); the peer's side holds at most its 1 MiB pipe.
/// </summary>
[NonParallelizable]
public sealed class PinnedBufferMemoryTests
{
    private const int Reads = 512;
    private const int ReadBytes = 1 << 20;
    private const long HeldBound = 64L << 20;
    private const long PeakBound = 160L << 20;

    [Test]
    public async Task FiveHundredTwelveOutstanding1MiBReads_AreCappedWhileInFlight_AndReturnedToTheOsAfterClose()
    {
        var limits = new TargetLimits { MaxQueueSize = 1024, BufferIdleTrim = TimeSpan.FromSeconds(1) };
        await using var target = LoopbackTarget.Start(namespaceBytes: 4L << 20, limits: limits);
        await using var admin = await RawNvmeHost.OpenAsync(target.EndPoint, LoopbackTarget.SubsystemNqn, 0);
        var io = new RawNvmeHost(await StreamConnector.ConnectAsync(target.EndPoint, MultipathPolicy.Disabled));
        await io.InitializeAsync();
        var connect = await io.ConnectAsync(LoopbackTarget.SubsystemNqn, 1, Reads + 16, admin.ControllerId);
        Assert.That(connect.Status.IsSuccess, Is.True, connect.Status.ToString());

        // Warm-up: one read through the whole path (JIT, pools), then the baseline.
        Assert.That((await io.ReadAsync(1, 0, ReadBytes)).Status.IsSuccess, Is.True);
        var baseline = Rss(collect: true);

        // 512 reads sent at once; the host reads none of the data, so what the target does not hold back piles up in it.
        for (var i = 0; i < Reads; i++)
        {
            var cmd = io.Command(IoOpcodes.Read, 1, cdw10: 0, cdw12: (ReadBytes / 512) - 1, length: ReadBytes);
            cmd.CommandId = (ushort)(1000 + i);
            io.Writer.WriteCapsuleCmd(cmd, default);
        }

        await io.Writer.FlushAsync();
        long peak = 0;
        var watch = Stopwatch.StartNew();
        while (watch.Elapsed < TimeSpan.FromSeconds(8))
        {
            peak = Math.Max(peak, Rss(collect: false));
            await Task.Delay(100);
        }

        var poolPeak = target.Server.Registry.Buffers.PeakBytesInUse;
        await io.DisposeAsync();
        await WaitAsync(() => target.Server.ActiveConnections == 1, TimeSpan.FromSeconds(30)); // the admin queue stays

        // The process left alone (no collection forced here): the idle trim must give the memory back by itself.
        long held = long.MaxValue;
        watch.Restart();
        while (watch.Elapsed < TimeSpan.FromSeconds(30))
        {
            held = Rss(collect: false) - baseline;
            if (held < HeldBound)
            {
                break;
            }

            await Task.Delay(250);
        }

        await TestContext.Out.WriteLineAsync($"{Reads} x {ReadBytes >> 20} MiB reads outstanding on one queue: RSS baseline {baseline >> 20} MiB, "
            + $"peak +{(peak - baseline) >> 20} MiB while in flight (pool peak {poolPeak >> 20} MiB in use), "
            + $"+{held >> 20} MiB held after close ({watch.Elapsed.TotalSeconds:F1} s after close); "
            + $"limit_reached connection_buffered_bytes={target.Server.Registry.Counters.LimitsReached[(int)LimitKind.ConnectionBufferedBytes]}");
        Assert.That(held, Is.LessThan(HeldBound), "RSS still held 30 s after the connection closed");
        Assert.That(peak - baseline, Is.LessThan(PeakBound), "RSS while 512 x 1 MiB reads were outstanding");
        Assert.That(poolPeak, Is.LessThanOrEqualTo(limits.MaxConnectionBufferedBytes));
    }

    private static long Rss(bool collect)
    {
        if (collect)
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
            GC.Collect();
        }

        using var self = Process.GetCurrentProcess();
        return self.WorkingSet64;
    }

    private static async Task WaitAsync(Func<bool> condition, TimeSpan limit)
    {
        var watch = Stopwatch.StartNew();
        while (!condition())
        {
            Assert.That(watch.Elapsed, Is.LessThan(limit), "condition not met in time");
            await Task.Delay(50);
        }
    }
}
