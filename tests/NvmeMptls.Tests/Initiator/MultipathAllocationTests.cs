using System.IO.Pipelines;
using NvmeMptls.Initiator;
using NvmeMptls.Target.Subsystems;
using NvmeMptls.TestKit;
using NvmeMptls.Transport.Nvme;

namespace NvmeMptls.Tests.Initiator;

/// <summary>
/// "No allocation per I/O" through <see cref="NvmeMultipathNamespace"/>: 32 commands in flight spread over two
/// controllers (two ports of one in-memory target, both optimized). Bytes are process-wide, the target included.
/// </summary>
[NonParallelizable]
public sealed class MultipathAllocationTests
{
    private static readonly TargetPortInfo Port2 = new(2, "127.0.0.2", 4421, PortTlsMode.None);

    [Test]
    public async Task SteadyState_32InFlightOverTwoPaths_AllocatesAlmostNothingPerIo()
    {
        await using var target = new InMemoryTarget(namespaceBytes: 8 << 20);
        target.Registry.AddPort(Port2);
        await using var c1 = await ConnectAsync(target, target.Port);
        await using var c2 = await ConnectAsync(target, Port2);
        using var ns = await NvmeMultipathNamespace.OpenAsync([c1, c2], 1);
        Assert.That(ns.ActivePaths, Has.Count.EqualTo(2));
        var buffers = new byte[32][];
        for (var i = 0; i < buffers.Length; i++)
        {
            buffers[i] = new byte[4096];
        }

        await RunConcurrentAsync(ns, buffers, 500);

        const int PerWorker = 2000;
        var before = GC.GetTotalAllocatedBytes(precise: true);
        await RunConcurrentAsync(ns, buffers, PerWorker);
        var perIo = (GC.GetTotalAllocatedBytes(precise: true) - before) / (double)(PerWorker * buffers.Length);

        TestContext.Out.WriteLine($"multipath, 2 paths, 32 in flight, 4096 B: {perIo:0.00} bytes allocated per I/O (process-wide, target included)");
        Assert.That(perIo, Is.LessThan(8));
    }

    private static Task<NvmeController> ConnectAsync(InMemoryTarget target, TargetPortInfo port) =>
        NvmeController.ConnectAsync(NvmeControllerOptions.Default with
        {
            SubsystemNqn = InMemoryTarget.SubsystemNqn,
            TargetPort = port.Port,
            IoQueueCount = 2,
            QueueSize = 32,
        }, (_, _) => ValueTask.FromResult<IDuplexPipe>(target.Open(port)));

    private static async Task RunConcurrentAsync(NvmeMultipathNamespace ns, byte[][] buffers, int perWorker)
    {
        var workers = new Task[buffers.Length];
        for (var w = 0; w < workers.Length; w++)
        {
            var buffer = buffers[w];
            var lba = (ulong)w * 8;
            workers[w] = Task.Run(async () =>
            {
                for (var i = 0; i < perWorker; i++)
                {
                    await (i % 4 == 0 ? ns.WriteAsync(lba, buffer) : ns.ReadAsync(lba, buffer));
                }
            });
        }

        await Task.WhenAll(workers);
    }
}
