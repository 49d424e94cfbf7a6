using System.Diagnostics;
using System.Net.Sockets;
using NvmeMptls.Target.Configuration;
using NvmeMptls.Target.Server;
using NvmeMptls.Target.Subsystems;
using NvmeMptls.TestKit;

namespace NvmeMptls.IntegrationTests.Limits;

/// <summary>
/// Setup deadlines over real sockets with short configured timeouts (issue 12): a TLS port that has not yet seen
/// enough bytes to decide TLS or plaintext, and a plain port whose peer trickles its ICReq, both close at the
/// deadline. Bounds are generous; nothing here is a timing measurement.
/// </summary>
[NonParallelizable]
public sealed class SetupDeadlineLoopbackTests
{
    private static readonly TargetLimits Short = new() { IcReqTimeout = TimeSpan.FromMilliseconds(500), ConnectTimeout = TimeSpan.FromMilliseconds(500) };

    [TestCase(TlsMode.Required)]
    [TestCase(TlsMode.Optional)]
    public async Task TlsPort_FewerThanEightBytes_ClosedAtTheIcReqDeadline(TlsMode tls)
    {
        await using var target = LoopbackTarget.Start(namespaceBytes: 1 << 20, limits: Short, tls: tls, security: LimitsTestKit.Security(tls));
        using var socket = await LimitsTestKit.ConnectAsync(target);
        await socket.SendAsync(new byte[] { 22, 3, 1 }, SocketFlags.None);

        await AssertClosedByTargetAsync(socket);
        Assert.That(target.Server.Registry.Counters.SetupTimeouts[(int)SetupPhase.IcReq], Is.EqualTo(1));
    }

    [Test]
    public async Task PlainPort_IcReqOneByteEvery100Ms_ClosedAtTheDeadlineNotKeptAlive()
    {
        await using var target = LoopbackTarget.Start(namespaceBytes: 1 << 20, limits: Short);
        using var socket = await LimitsTestKit.ConnectAsync(target);
        var icreq = new byte[128];
        icreq[2] = 128;
        icreq[4] = 128;
        var closed = false;
        for (var i = 0; i < 127 && !closed; i++)
        {
            try
            {
                await socket.SendAsync(icreq.AsMemory(i, 1), SocketFlags.None);
            }
            catch (SocketException)
            {
                closed = true;
            }

            closed |= socket.Poll(0, SelectMode.SelectRead);
            await Task.Delay(100);
        }

        await AssertClosedByTargetAsync(socket);
        await WaitUntilAsync(() => target.Server.Registry.Counters.ConnectionsEndedByReason[(int)ConnectionEndReason.SetupTimeout] == 1);
        Assert.That(target.Server.Registry.Counters.SetupTimeouts[(int)SetupPhase.IcReq], Is.EqualTo(1));
    }

    /// <summary>The target ends the connection (FIN or reset) within a generous bound of the 500 ms deadline.</summary>
    private static async Task AssertClosedByTargetAsync(Socket socket)
    {
        var buffer = new byte[256];
        var watch = Stopwatch.StartNew();
        try
        {
            while (await socket.ReceiveAsync(buffer, SocketFlags.None).WaitAsync(TimeSpan.FromSeconds(15)) > 0)
            {
            }
        }
        catch (SocketException)
        {
            // Reset: closed too.
        }

        await TestContext.Out.WriteLineAsync($"closed by the target after {watch.ElapsedMilliseconds} ms");
    }

    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        for (var i = 0; i < 200 && !condition(); i++)
        {
            await Task.Delay(25);
        }

        Assert.That(condition(), Is.True);
    }
}
