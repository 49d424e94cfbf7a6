using System.Buffers.Binary;
using System.IO.Pipelines;
using NvmeMptls.Initiator;
using NvmeMptls.Target.Subsystems;
using NvmeMptls.TestKit;
using NvmeMptls.Transport.Nvme;
using static NvmeMptls.Tests.Initiator.InitiatorTestHelpers;

namespace NvmeMptls.Tests.Initiator;

/// <summary>
/// Our initiator learns ANA (log 0Ch at bring-up, the ANA Change notice, a read after a path-related status) and a
/// multipath namespace over two controllers of one in-memory target (two ports) sends I/O to the optimized path and
/// follows moves and path loss without an error reaching the caller.
/// </summary>
public sealed class MultipathNamespaceTests
{
    private static readonly TargetPortInfo Port2 = new(2, "127.0.0.2", 4421, PortTlsMode.None);

    private static InMemoryTarget TwoPorts()
    {
        var target = new InMemoryTarget(namespaceBytes: 8 << 20);
        target.Registry.AddPort(Port2);
        return target;
    }

    private static Task<NvmeController> ConnectAsync(InMemoryTarget target, TargetPortInfo port, TimeSpan? reconnectDelay = null) =>
        NvmeController.ConnectAsync(NvmeControllerOptions.Default with
        {
            SubsystemNqn = InMemoryTarget.SubsystemNqn,
            TargetPort = port.Port,
            IoQueueCount = 2,
            QueueSize = 32,
            ReconnectDelay = reconnectDelay ?? TimeSpan.FromSeconds(10),
        }, (_, _) => ValueTask.FromResult<IDuplexPipe>(target.Open(port)));

    private static async Task<ulong> TargetErrorCountAsync(NvmeController controller)
    {
        var page = await controller.GetLogPageAsync(LogPageIds.ErrorInformation, 0, 0, 64, CancellationToken.None);
        return BinaryPrimitives.ReadUInt64LittleEndian(page);
    }

    /// <summary>Writes then reads back <paramref name="count"/> distinct 4 KiB blocks; returns the failures.</summary>
    /// <summary>Verified rounds of 4 blocks each on <paramref name="device"/> until stopped; the problems seen, in order.</summary>
    private sealed class VerifyLoop
    {
        private int _rounds;

        public VerifyLoop(INamespaceDevice device, CancellationToken stop) =>
            Problems = Task.Run(async () =>
            {
                var problems = new List<string>();
                for (var i = 0; !stop.IsCancellationRequested; i++)
                {
                    problems.AddRange(await VerifyAsync(device, 4, i * 4));
                    Interlocked.Increment(ref _rounds);
                }

                return problems;
            });

        public int Rounds => Volatile.Read(ref _rounds);

        public Task<List<string>> Problems { get; }
    }

    private static async Task<List<string>> VerifyAsync(INamespaceDevice device, int count, int seed)
    {
        var problems = new List<string>();
        var back = new byte[4096];
        for (var i = 0; i < count; i++)
        {
            var data = Pattern(4096, seed + i);
            var lba = (ulong)((seed + i) % 2000) * 8;
            try
            {
                await device.WriteAsync(lba, data);
                await device.ReadAsync(lba, back);
                if (!back.AsSpan().SequenceEqual(data))
                {
                    problems.Add($"block {lba}: mismatch");
                }
            }
            catch (Exception ex) when (ex is NvmeStatusException or IOException)
            {
                problems.Add($"block {lba}: {ex.Message}");
            }
        }

        return problems;
    }

    [Test]
    public async Task Controller_ReadsAnaAtBringUp_AndFollowsTheAnaChangeNotice()
    {
        await using var target = TwoPorts();
        target.Registry.Ana.SetState(2, 1, AnaState.Inaccessible);
        await using var c1 = await ConnectAsync(target, target.Port);
        await using var c2 = await ConnectAsync(target, Port2);
        Assert.Multiple(() =>
        {
            Assert.That(c1.ReportsAna, Is.True);
            Assert.That(c1.GetAnaState(1), Is.EqualTo(NvmeAnaState.Optimized));
            Assert.That(c2.GetAnaState(1), Is.EqualTo(NvmeAnaState.Inaccessible));
            Assert.That(c2.GetAnaState(9), Is.EqualTo(NvmeAnaState.Unknown), "a namespace the log does not list");
            Assert.That(c2.AnaTransitionTime, Is.EqualTo(TimeSpan.FromSeconds(10)));
        });
        var changes = 0;
        c2.AnaChanged += (_, _) => Interlocked.Increment(ref changes);
        var before = c2.AnaChangeCount;

        target.Registry.Ana.SetState(2, 1, AnaState.NonOptimized);
        await Until(() => c2.GetAnaState(1) == NvmeAnaState.NonOptimized, "the notice on port 2 read into controller 2");
        Assert.That(c2.AnaChangeCount, Is.GreaterThan(before));
        Assert.That(Volatile.Read(ref changes), Is.EqualTo(1));
        Assert.That(c1.GetAnaState(1), Is.EqualTo(NvmeAnaState.Optimized));
        Assert.That((await c2.OpenNamespaceAsync(1)).Identify.AnaGroupId, Is.EqualTo(1u));
    }

    [Test]
    public async Task MultipathNamespace_SendsIoOnlyToTheOptimizedPath()
    {
        await using var target = TwoPorts();
        target.Registry.Ana.SetState(2, 1, AnaState.Inaccessible);
        await using var c1 = await ConnectAsync(target, target.Port);
        await using var c2 = await ConnectAsync(target, Port2);
        using var ns = await NvmeMultipathNamespace.OpenAsync([c1, c2], 1);

        Assert.That(ns.ActivePaths.Select(p => p.Controller), Is.EqualTo(new[] { c1 }));
        Assert.That(await VerifyAsync(ns, 64, 1), Is.Empty);
        Assert.That(await TargetErrorCountAsync(c2), Is.Zero, "not one command reached the inaccessible path");
    }

    [Test]
    public async Task MultipathNamespace_BothOptimized_SpreadsIoOverBothPaths()
    {
        await using var target = TwoPorts();
        await using var c1 = await ConnectAsync(target, target.Port);
        await using var c2 = await ConnectAsync(target, Port2);
        using var ns = await NvmeMultipathNamespace.OpenAsync([c1, c2], 1);
        var reads = target.Subsystem.FindNamespace(1)!.Counters;
        Assert.That(ns.ActivePaths, Has.Count.EqualTo(2));
        Assert.That(await VerifyAsync(ns, 32, 7), Is.Empty);
        Assert.That(Interlocked.Read(ref reads.ReadCommands), Is.EqualTo(32));
    }

    [Test]
    public async Task MultipathNamespace_PlannedMoveUnderLoad_FollowsWithoutOneError()
    {
        await using var target = TwoPorts();
        target.Registry.Ana.SetState(2, 1, AnaState.Inaccessible);
        await using var c1 = await ConnectAsync(target, target.Port);
        await using var c2 = await ConnectAsync(target, Port2);
        using var ns = await NvmeMultipathNamespace.OpenAsync([c1, c2], 1);

        using var stop = new CancellationTokenSource();
        var workload = new VerifyLoop(ns, stop.Token);
        await Until(() => workload.Rounds > 5, "the workload running");

        // The move as a gateway group makes it: the old owner goes inaccessible first, then the new one optimized.
        target.Registry.Ana.SetState(1, 1, AnaState.Inaccessible);
        await Task.Delay(50);
        target.Registry.Ana.SetState(2, 1, AnaState.Optimized);
        await Until(() => ns.ActivePaths.Select(p => p.Controller).SequenceEqual([c2]), "I/O moving to port 2");
        var moved = workload.Rounds;
        await Until(() => workload.Rounds > moved + 5, "the workload going on after the move");
        await stop.CancelAsync();
        Assert.That(await workload.Problems, Is.Empty);
    }

    [Test]
    public async Task MultipathNamespace_StaleViewGetsAnaInaccessible_FailsOverAndRereadsTheLog()
    {
        await using var target = TwoPorts();
        await using var c1 = await ConnectAsync(target, target.Port);
        await using var c2 = await ConnectAsync(target, Port2);
        using var ns = await NvmeMultipathNamespace.OpenAsync([c1, c2], 1);

        // Controller 1 is told nothing more (its AEN configuration cleared): its view goes stale.
        await c1.SetFeatureAsync(FeatureIds.AsyncEventConfig, 0);
        target.Registry.Ana.SetState(1, 1, AnaState.Inaccessible);

        Assert.That(await VerifyAsync(ns, 16, 3), Is.Empty, "every command served, on port 2 after a refusal");
        Assert.That(await TargetErrorCountAsync(c1), Is.GreaterThan(0UL), "port 1 refused at least one command with an ANA status");
        await Until(() => c1.GetAnaState(1) == NvmeAnaState.Inaccessible, "controller 1 re-reading log 0Ch after the refusal");
        Assert.That(ns.ActivePaths.Select(p => p.Controller), Is.EqualTo(new[] { c2 }));
    }

    [Test]
    public async Task MultipathNamespace_PathLost_IoMovesToTheOtherPath_AndComesBackAfterReconnect()
    {
        await using var target = TwoPorts();
        target.Registry.Ana.SetState(2, 1, AnaState.NonOptimized);
        await using var c1 = await ConnectAsync(target, target.Port, reconnectDelay: TimeSpan.FromSeconds(1));
        await using var c2 = await ConnectAsync(target, Port2);
        using var ns = await NvmeMultipathNamespace.OpenAsync([c1, c2], 1);
        Assert.That(ns.ActivePaths.Select(p => p.Controller), Is.EqualTo(new[] { c1 }));

        using var stop = new CancellationTokenSource();
        var workload = new VerifyLoop(ns, stop.Token);
        await Until(() => workload.Rounds > 5, "the workload running");

        // Controller 1's connections (admin + 2 I/O queues, opened first) die.
        for (var i = 0; i < 3; i++)
        {
            await target.QueueOf(i).AbortAsync("test: path lost");
        }

        await Until(() => c1.State == NvmeControllerState.Resetting || c1.State == NvmeControllerState.Live && ns.ActivePaths.Count == 1, "path 1 lost");
        var lost = workload.Rounds;
        await Until(() => workload.Rounds > lost + 5, "I/O going on over port 2");
        await Until(() => c1.State == NvmeControllerState.Live && ns.ActivePaths.Select(p => p.Controller).SequenceEqual([c1]), "path 1 back after its reconnect");
        await stop.CancelAsync();
        Assert.That(await workload.Problems, Is.Empty);
    }

    [Test]
    public async Task MultipathNamespace_NoPathCanServe_FailsAfterTheFailoverTimeout()
    {
        await using var target = TwoPorts();
        target.Registry.Ana.SetState(1, 1, AnaState.Inaccessible);
        target.Registry.Ana.SetState(2, 1, AnaState.PersistentLoss);
        await using var c1 = await ConnectAsync(target, target.Port);
        await using var c2 = await ConnectAsync(target, Port2);
        using var ns = await NvmeMultipathNamespace.OpenAsync([c1, c2], 1, failoverTimeout: TimeSpan.FromMilliseconds(500));
        Assert.That(ns.ActivePaths, Is.Empty);
        var ex = Assert.ThrowsAsync<IOException>(async () => await ns.ReadAsync(0, new byte[512]));
        Assert.That(ex!.Message, Does.Contain("no path could serve"));
    }

    [Test]
    public async Task OpenAsync_PathsOfDifferentNamespaces_AreRefused()
    {
        await using var a = TwoPorts();
        await using var b = TwoPorts();
        await using var c1 = await ConnectAsync(a, a.Port);
        await using var c2 = await ConnectAsync(b, b.Port);
        Assert.ThrowsAsync<ArgumentException>(async () => await NvmeMultipathNamespace.OpenAsync([c1, c2], 1));
    }
}
