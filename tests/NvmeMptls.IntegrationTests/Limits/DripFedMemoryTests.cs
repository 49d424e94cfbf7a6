using System.Diagnostics;
using System.Net.Sockets;
using NvmeMptls.Target.Configuration;
using NvmeMptls.TestKit;

namespace NvmeMptls.IntegrationTests.Limits;

/// <summary>
/// Memory a peer can make the target hold by dripping its first PDU (or its ClientHello) one byte per TCP segment:
/// held memory must grow with the bytes received, not with the number of receives (issue 12). Printed as a
/// measurement; the bound asserted is generous (the old receive loop held about 2 MiB per connection here).
/// </summary>
[NonParallelizable]
public sealed class DripFedMemoryTests
{
    private const int Connections = 64;
    private const int BytesEach = 127;
    private const long BoundPerConnection = 64 << 10;

    [TestCase(TlsMode.None)]
    [TestCase(TlsMode.Required)]
    public async Task DripFedPeers_127BytesOneBytePerSegment_HoldUnder64KiBEach(TlsMode tls)
    {
        await using var target = LoopbackTarget.Start(namespaceBytes: 1 << 20, tls: tls, security: LimitsTestKit.Security(tls));

        // An ICReq on a plain port; a TLS record header announcing a 512-byte ClientHello on a TLS port. Neither completes.
        var first = new byte[BytesEach];
        if (tls == TlsMode.None)
        {
            first[1] = 0; first[2] = 128; first[4] = 128;
        }
        else
        {
            first[0] = 22; first[1] = 3; first[2] = 1; first[3] = 2; first[4] = 0; first[5] = 1;
        }

        await DripAsync(target, first, 1); // warm-up: JIT, pools
        var (heapBefore, rssBefore) = Measure();
        var sockets = await DripAsync(target, first, Connections);
        try
        {
            var (heapAfter, rssAfter) = Measure();
            var heapPer = (heapAfter - heapBefore) / Connections;
            var rssPer = (rssAfter - rssBefore) / Connections;
            await TestContext.Out.WriteLineAsync($"{tls}: {Connections} connections x {BytesEach} bytes dripped one per segment: "
                + $"managed heap +{heapPer / 1024.0:F1} KiB/connection, RSS +{rssPer / 1024.0:F1} KiB/connection "
                + $"(heap {heapBefore >> 10} -> {heapAfter >> 10} KiB, RSS {rssBefore >> 10} -> {rssAfter >> 10} KiB)");
            Assert.That(heapPer, Is.LessThan(BoundPerConnection), "managed heap held per drip-fed connection");
        }
        finally
        {
            foreach (var s in sockets)
            {
                s.Dispose();
            }
        }
    }

    private static (long Heap, long Rss) Measure()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        using var self = Process.GetCurrentProcess();
        return (GC.GetTotalMemory(forceFullCollection: true), self.WorkingSet64);
    }

    /// <summary>Opens <paramref name="count"/> connections and sends <paramref name="bytes"/> round-robin, one byte per send, with a pause between rounds so each byte is its own segment and its own receive.</summary>
    private static async Task<List<Socket>> DripAsync(LoopbackTarget target, byte[] bytes, int count)
    {
        var sockets = new List<Socket>(count);
        for (var i = 0; i < count; i++)
        {
            sockets.Add(await LimitsTestKit.ConnectAsync(target));
        }

        for (var b = 0; b < bytes.Length; b++)
        {
            foreach (var s in sockets)
            {
                await s.SendAsync(bytes.AsMemory(b, 1), SocketFlags.None);
            }

            await Task.Delay(3);
        }

        await Task.Delay(200); // let the last receives land
        if (count == 1)
        {
            sockets[0].Dispose();
            sockets.Clear();
        }

        return sockets;
    }
}
