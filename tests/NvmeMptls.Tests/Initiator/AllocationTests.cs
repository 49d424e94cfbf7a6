using NvmeMptls.Initiator;

namespace NvmeMptls.Tests.Initiator;

/// <summary>Regression guard for "no allocation per I/O": bytes allocated (whole process, fake included) per command.</summary>
[NonParallelizable]
public sealed class AllocationTests
{
    [TestCase(4096, false)]
    [TestCase(4096, true)]
    [TestCase(64 * 1024, false)]
    public async Task SteadyState_ReadsAndWrites_AllocateAlmostNothingPerIo(int size, bool digests)
    {
        var fake = new FakeController();
        await using var controller = await NvmeController.ConnectAsync(fake.Options(2) with { HeaderDigest = digests, DataDigest = digests }, fake.Factory);
        var ns = await controller.OpenNamespaceAsync(1);
        var buffer = new byte[size];
        await RunAsync(ns, buffer, 2000);

        const int Ios = 20000;
        var before = GC.GetTotalAllocatedBytes(precise: true);
        await RunAsync(ns, buffer, Ios);
        var perIo = (GC.GetTotalAllocatedBytes(precise: true) - before) / (double)Ios;

        TestContext.Out.WriteLine($"{size} B I/O, digests {digests}: {perIo:0.0} bytes allocated per I/O (process-wide, fake controller included)");
        Assert.That(perIo, Is.LessThan(200));
    }

    private static async Task RunAsync(NvmeNamespace ns, byte[] buffer, int count)
    {
        for (var i = 0; i < count; i++)
        {
            if ((i & 1) == 0)
            {
                await ns.WriteAsync((ulong)(i % 64) * 8, buffer);
            }
            else
            {
                await ns.ReadAsync((ulong)(i % 64) * 8, buffer);
            }
        }
    }
}
