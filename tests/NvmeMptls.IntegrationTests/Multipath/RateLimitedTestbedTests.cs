using System.Diagnostics;
using NvmeMptls.IntegrationTests.TestKit;
using NvmeMptls.Transport.Multipath;
using NvmeMptls.Transport.Sockets;

namespace NvmeMptls.IntegrationTests.Multipath;

/// <summary>Two paths each shaped to 100 Mbit/s with tc tbf: path failure and the aggregation benchmark.</summary>
[TestFixture]
[NonParallelizable]
public sealed class RateLimitedTestbedTests : TestbedFixture
{
    private const string PathRate = "100mbit";
    protected override string Tag => "mpr";
    protected override string? Rate => PathRate;

    [Test]
    public async Task PathDownAndUp_DuringTransfer_NoDataLostAndSubflowReturns()
    {
        await using var link = await TransferKit.ConnectAsync(Bed, MultipathPolicy.Required, MultipathPolicy.Required);
        var (client, server) = (link.Client, link.Server);
        await TransferKit.WaitForSubflowsAsync(client, 2);

        using var stop = new CancellationTokenSource();
        var send = TransferKit.SendAsync(client.Output, long.MaxValue, seed: 31, stop.Token);
        var receive = TransferKit.ReceiveAsync(server.Input);
        await WaitUntilAsync(() => TransferKit.OnPath(client.GetMultipathStatus(), 2)?.BytesSent > 4UL << 20, "path 2 carries data");

        Bed.PathDown(2);
        await Task.Delay(TimeSpan.FromSeconds(3));
        var during = client.GetMultipathStatus();
        Bed.PathUp(2);
        ulong sentOnPath2AtUp = TransferKit.OnPath(client.GetMultipathStatus(), 2)?.BytesSent ?? 0;
        TestContext.Out.WriteLine("while path 2 was down: " + during.Describe());

        await WaitUntilAsync(() => TransferKit.OnPath(client.GetMultipathStatus(), 2)?.BytesSent > sentOnPath2AtUp + (4UL << 20),
            "path 2 carries data again after path-up");
        TestContext.Out.WriteLine("after path-up: " + client.GetMultipathStatus().Describe());
        await stop.CancelAsync();
        await Task.WhenAll(send, receive).WaitAsync(TransferKit.HangLimit);

        Assert.That(receive.Result.Length, Is.EqualTo(send.Result.Length), "bytes received");
        Assert.That(receive.Result.Hash, Is.EqualTo(send.Result.Hash), "SHA-256 of the stream");
    }

    [Test]
    [Category("Benchmark")]
    public async Task Aggregation_OnePathVsTwoPaths_PrintsThroughput()
    {
        const long Bytes = 64L << 20;
        double one = await MeasureAsync(MultipathPolicy.Disabled, Bytes, subflows: 1);
        double two = await MeasureAsync(MultipathPolicy.Required, Bytes, subflows: 2);
        string report = $"aggregation over tc tbf {PathRate} per path, {Bytes >> 20} MiB byte stream: "
            + $"1 path (TCP) {one:0.0} Mbit/s, 2 paths (MPTCP) {two:0.0} Mbit/s, ratio {two / one:0.00}x";
        TestContext.Out.WriteLine(report);
        Console.WriteLine(report);
    }

    private async Task<double> MeasureAsync(MultipathPolicy policy, long bytes, int subflows)
    {
        await using var link = await TransferKit.ConnectAsync(Bed, policy, policy);
        var (client, server) = (link.Client, link.Server);
        if (subflows > 1)
            await TransferKit.WaitForSubflowsAsync(client, subflows);
        var clock = Stopwatch.StartNew();
        var send = TransferKit.SendAsync(client.Output, bytes, seed: 41);
        var receive = TransferKit.ReceiveAsync(server.Input);
        await Task.WhenAll(send, receive).WaitAsync(TransferKit.HangLimit);
        clock.Stop();
        Assert.That(receive.Result.Hash, Is.EqualTo(send.Result.Hash), "the measured stream arrived intact");
        if (subflows > 1)
            TestContext.Out.WriteLine(client.GetMultipathStatus().Describe());
        return bytes * 8 / clock.Elapsed.TotalSeconds / 1e6;
    }

    private static async Task WaitUntilAsync(Func<bool> condition, string what)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
                throw new AssertionException($"gave up waiting: {what}");
            await Task.Delay(100);
        }
    }
}
