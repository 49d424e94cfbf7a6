using System.Diagnostics;
using NvmeMptls.Initiator;
using NvmeMptls.IntegrationTests.TestKit;
using NvmeMptls.Target.Configuration;
using NvmeMptls.Transport.Nvme;

namespace NvmeMptls.IntegrationTests.Service;

/// <summary>
/// Our initiator over TCP against the real service with two ports: a multipath namespace over two controllers
/// follows a planned move (configuration reload) and the loss of the optimized path with a takeover by the other
/// port, with a verifying workload that sees no error. Prints the timelines (ms).
/// </summary>
[TestFixture]
[NonParallelizable]
public sealed class InitiatorAnaFailoverTests
{
    private static NvmeControllerOptions Options(int port) => NvmeControllerOptions.Default with
    {
        TargetPort = port,
        SubsystemNqn = AnaLiveReloadTests.Nqn,
        IoQueueCount = 2,
        Multipath = NvmeMultipathPolicy.Disabled,
        ReconnectDelay = TimeSpan.FromSeconds(1),
    };

    private static Task<List<string>> Workload(NvmeMultipathNamespace ns, Action<int> progress, CancellationToken stop) => Task.Run(async () =>
    {
        var problems = new List<string>();
        var data = new byte[4096];
        var back = new byte[4096];
        for (var i = 0; !stop.IsCancellationRequested; i++)
        {
            Random.Shared.NextBytes(data);
            var lba = (ulong)(i % 1024) * 8;
            try
            {
                await ns.WriteAsync(lba, data);
                await ns.ReadAsync(lba, back);
                if (!back.AsSpan().SequenceEqual(data))
                {
                    problems.Add($"block {lba}: mismatch");
                }
            }
            catch (Exception ex) when (ex is IOException or NvmeStatusException)
            {
                problems.Add($"block {lba}: {ex.Message}");
            }

            progress(i);
        }

        return problems;
    });

    [Test]
    public async Task PlannedMoveThenPathLossWithTakeover_WorkloadSeesNoError()
    {
        var dir = Directory.CreateTempSubdirectory("nvmemptls-ana-init-").FullName;
        try
        {
            int port1 = TargetProcess.FreePort(), port2 = TargetProcess.FreePort(), metrics = TargetProcess.FreePort();
            var config = Path.Combine(dir, "target.json");
            await File.WriteAllTextAsync(config, AnaLiveReloadTests.Config(port1, port2, metrics, "\"2\": \"optimized\"", "\"2\": \"inaccessible\""));
            await using var target = await InProcessTarget.StartAsync(config);
            var applied = new TaskCompletionSource<TargetOptions>(TaskCreationOptions.RunContinuationsAsynchronously);
            target.Service.OptionsApplied += o => applied.TrySetResult(o);

            await using var c1 = await NvmeController.ConnectAsync(Options(port1));
            await using var c2 = await NvmeController.ConnectAsync(Options(port2));
            using var ns = await NvmeMultipathNamespace.OpenAsync([c1, c2], 2);
            Assert.That(ns.ActivePaths.Select(p => p.Controller), Is.EqualTo(new[] { c1 }));

            using var stop = new CancellationTokenSource();
            var last = 0;
            var workload = Workload(ns, i => Volatile.Write(ref last, i), stop.Token);
            await Until(() => Volatile.Read(ref last) > 50, "workload running");

            // 1. Planned move: the operator swaps the ports' states in the configuration file.
            var clock = Stopwatch.StartNew();
            await File.WriteAllTextAsync(config, AnaLiveReloadTests.Config(port1, port2, metrics, "\"2\": \"inaccessible\"", "\"2\": \"optimized\""));
            await applied.Task.WaitAsync(TimeSpan.FromSeconds(30));
            var reloadMs = clock.ElapsedMilliseconds;
            await Until(() => ns.ActivePaths.Select(p => p.Controller).SequenceEqual([c2]), "I/O moving to port 2");
            var movedMs = clock.ElapsedMilliseconds;
            var at = Volatile.Read(ref last);
            await Until(() => Volatile.Read(ref last) > at + 50, "I/O going on after the move");
            TestContext.Progress.WriteLine($"planned move: file written -> reload applied {reloadMs} ms -> host on port 2 {movedMs} ms");

            // 2. The optimized path (port 2) dies; port 1 takes the group over (as a gateway group would).
            clock.Restart();
            await LoseOptimizedPortAsync(target, lost: 2, takeover: 1, group: 2);
            await Until(() => ns.ActivePaths.Select(p => p.Controller).SequenceEqual([c1]), "I/O moving back to port 1");
            var failoverMs = clock.ElapsedMilliseconds;
            at = Volatile.Read(ref last);
            await Until(() => Volatile.Read(ref last) > at + 50, "I/O going on after the loss");
            var resumedMs = clock.ElapsedMilliseconds;
            TestContext.Progress.WriteLine($"path loss: controllers on port 2 closed + takeover -> host on port 1 {failoverMs} ms, 50 more verified I/Os by {resumedMs} ms");

            await stop.CancelAsync();
            Assert.That(await workload, Is.Empty);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    /// <summary>
    /// What a gateway group does when the optimized gateway dies, in one process: the controllers of port
    /// <paramref name="lost"/> end, the group turns inaccessible there and optimized on port <paramref name="takeover"/>.
    /// </summary>
    internal static async Task LoseOptimizedPortAsync(InProcessTarget target, ushort lost, ushort takeover, uint group)
    {
        var registry = target.Service.Server!.Registry;
        var subsystem = registry.Find(AnaLiveReloadTests.Nqn)!;
        foreach (var controller in subsystem.Controllers.Where(c => c.AdminPortId == lost).ToList())
        {
            await controller.CloseAsync("test: path lost");
        }

        registry.Ana.SetState(lost, group, AnaState.Inaccessible);
        registry.Ana.SetState(takeover, group, AnaState.Optimized);
    }

    private static async Task Until(Func<bool> condition, string what)
    {
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                Assert.Fail($"gave up waiting for {what}");
            }

            await Task.Delay(5);
        }
    }
}
