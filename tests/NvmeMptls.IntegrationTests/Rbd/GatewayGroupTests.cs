using System.Diagnostics;
using System.Globalization;
using NvmeMptls.Initiator;
using NvmeMptls.Transport.Nvme;

namespace NvmeMptls.IntegrationTests.Rbd;

/// <summary>
/// Two gateway processes of one gateway group over one RBD image of the real test cluster (<see cref="GatewayGroupKit"/>):
/// failover after kill -9 of the owner under a verifying multipath workload, split brain (owner frozen past its lease,
/// fenced by the taker, thawed: not one more write reaches the image), and a planned move there and back; the
/// discovery log of one gateway lists both. Timelines are printed in ms.
/// </summary>
[TestFixture]
[NonParallelizable]
public sealed class GatewayGroupTests
{
    private const string SIGKILL = "KILL";
    private const string SIGCONT = "CONT";
    private const string SIGSTOP = "STOP";

    /// <summary>kill(1) -s SIGNAL PID: 0 when the signal was sent.</summary>
    private static int kill(int pid, string signal)
    {
        using var process = Process.Start("kill", ["-s", signal, pid.ToString(CultureInfo.InvariantCulture)]);
        process.WaitForExit();
        return process.ExitCode;
    }

    private static bool RefusedForRetry(NvmeStatus status) =>
        !status.DoNotRetry && (status.StatusCodeType == 3 || status.Is(NvmeStatusCodes.NamespaceNotReady));

    private static string ImageName(string tag) => $"gw{tag}{Environment.ProcessId.ToString(CultureInfo.InvariantCulture)}";

    [Test]
    public async Task KillOwner_IoResumesOnTheOtherGateway_NoErrorNoMismatch()
    {
        var cluster = RbdClusterFixture.Require();
        await using var kit = GatewayGroupKit.Create(cluster, ImageName("kill"));
        await kit.StartAsync("gw1");
        await kit.WaitRoleAsync("gw1", "owner");
        await kit.StartAsync("gw2");
        await kit.WaitRoleAsync("gw2", "standby");

        await using var c1 = await NvmeController.ConnectAsync(kit.Options("gw1"));
        await using var c2 = await NvmeController.ConnectAsync(kit.Options("gw2"));
        using var ns = await NvmeMultipathNamespace.OpenAsync([c1, c2], 1, failoverTimeout: TimeSpan.FromSeconds(90));
        Assert.That(ns.ActivePaths.Select(p => p.Controller), Is.EqualTo(new[] { c1 }), "gw1 owns the group: only its path is optimized");

        var clock = Stopwatch.StartNew();
        var loop = new GatewayVerifyLoop(ns, clock);
        using var stop = new CancellationTokenSource();
        var workload = loop.RunAsync(stop.Token);
        await loop.WaitProgressAsync(100, "before the kill");

        // The target side of the timeline: when gw2 reports itself owner (its ports optimized, ANA notices sent).
        long ownerAt = -1;
        using var watching = new CancellationTokenSource();
        var watcher = Task.Run(async () =>
        {
            while (!watching.IsCancellationRequested && ownerAt < 0)
            {
                if ((await kit.StatusAsync("gw2")).Role == "owner")
                {
                    ownerAt = clock.ElapsedMilliseconds;
                }

                await Task.Delay(20, CancellationToken.None);
            }
        }, CancellationToken.None);
        long killedAt = clock.ElapsedMilliseconds;
        Assert.That(kill(kit.Process("gw1").Id, SIGKILL), Is.Zero);
        long anaAt = -1;
        while (anaAt < 0)
        {
            if (ns.ActivePaths.Select(p => p.Controller).SequenceEqual([c2]))
            {
                anaAt = clock.ElapsedMilliseconds;
            }
            else if (clock.ElapsedMilliseconds - killedAt > 90_000)
            {
                Assert.Fail($"the host never saw gw2 optimized\ngw2 output:\n{kit.Process("gw2").StandardOutput}");
            }

            await Task.Delay(5);
        }

        long ioBefore = loop.Completed;
        await loop.WaitProgressAsync(1, "after the takeover");
        long resumedAt = loop.LastDoneMs;
        await loop.WaitProgressAsync(100, "going on after the takeover");
        var (role, owner, fenced) = await kit.StatusAsync("gw2");
        string metrics = await kit.MetricsAsync("gw2");
        await watching.CancelAsync();
        await watcher;

        // The killed gateway restarts and rejoins as standby; a planned move (the CLI, asking the owner gw2) brings the group back.
        await kit.StartAsync("gw1");
        await kit.WaitRoleAsync("gw1", "standby");
        var (code, output) = await CliAsync("gateway", "move", "--control", $"http://127.0.0.1:{kit.Metrics["gw2"]}/metrics", "--group", "2", "--to", "gw1");
        Assert.That(code, Is.Zero, output);
        await kit.WaitRoleAsync("gw1", "owner");
        await WaitPathsAsync(ns, c1);
        await loop.WaitProgressAsync(100, "after the move back to the restarted gw1");
        await stop.CancelAsync();
        await workload;

        TestContext.Progress.WriteLine(
            $"gateway failover (kill -9 owner, lease {GatewayGroupKit.Lease.TotalSeconds} s): kill -> gw2 owner (fenced gw1, ports optimized; status polled every 20 ms) {ownerAt - killedAt} ms -> ANA change seen by host {anaAt - killedAt} ms -> first I/O completed {resumedAt - killedAt} ms; "
            + $"longest I/O gap {loop.LongestGap.GapMs} ms; {loop.Completed} verified I/Os, {ioBefore} before resuming; gw2 {role}, owner {owner}, fenced peers {fenced}");
        Assert.Multiple(() =>
        {
            Assert.That(loop.Problems, Is.Empty, "zero errors, zero mismatches");
            Assert.That(role, Is.EqualTo("owner"));
            Assert.That(fenced, Is.EqualTo(1), "gw2 fenced the killed owner before taking over");
            Assert.That(kit.Process("gw2").StandardOutput, Does.Contain("fenced the previous owner gw1"));
            Assert.That(metrics, Does.Contain("nvmemptls_gateway_group_owner{group=\"2\",owner=\"gw2\"} 1"));
            Assert.That(metrics, Does.Contain("nvmemptls_gateway_group_role{group=\"2\",role=\"owner\"} 1"));
            Assert.That(metrics, Does.Contain("nvmemptls_gateway_fenced_peers_total{group=\"2\"} 1"));
        });
    }

    [Test]
    public async Task FrozenOwnerPastItsLease_IsFencedByTheTaker_AndCompletesNoWriteAfterThaw()
    {
        var cluster = RbdClusterFixture.Require();
        await using var kit = GatewayGroupKit.Create(cluster, ImageName("split"));
        await kit.StartAsync("gw1");
        await kit.WaitRoleAsync("gw1", "owner");
        await kit.StartAsync("gw2");
        await kit.WaitRoleAsync("gw2", "standby");

        // The host keeps the frozen gateway's connection: no keep-alive, long command timeout, no reconnect.
        var patient = kit.Options("gw1") with { KeepAliveTimeout = TimeSpan.Zero, CommandTimeout = TimeSpan.FromMinutes(3), ControllerLossTimeout = TimeSpan.Zero };
        await using var c1 = await NvmeController.ConnectAsync(patient);
        var ns1 = await c1.OpenNamespaceAsync(1);
        byte[] a = Pattern(0xA1), stale = Pattern(0xB2), fresh = Pattern(0xC3);
        await ns1.WriteAsync(0, a);
        await ns1.WriteAsync(8, a);
        await ns1.FlushAsync();

        var clock = Stopwatch.StartNew();
        Assert.That(kill(kit.Process("gw1").Id, SIGSTOP), Is.Zero);
        long frozenAt = clock.ElapsedMilliseconds;

        // Sent to the frozen owner: waits in its socket until it thaws.
        var staleWrite = ns1.WriteAsync(8, stale).AsTask();

        await kit.WaitRoleAsync("gw2", "owner");
        long takenAt = clock.ElapsedMilliseconds;
        var (_, _, fenced) = await kit.StatusAsync("gw2");
        Assert.That(fenced, Is.EqualTo(1), "the taker fenced the frozen owner");

        // The new owner writes block 8.
        await using (var c2 = await NvmeController.ConnectAsync(kit.Options("gw2")))
        {
            var ns2 = await c2.OpenNamespaceAsync(1);
            await ns2.WriteAsync(8, fresh);
            await ns2.FlushAsync();
        }

        Assert.That(kill(kit.Process("gw1").Id, SIGCONT), Is.Zero);
        long thawedAt = clock.ElapsedMilliseconds;
        var error = Assert.ThrowsAsync<NvmeStatusException>(async () => await staleWrite.WaitAsync(TimeSpan.FromSeconds(120)));
        long failedAt = clock.ElapsedMilliseconds;

        // A new write after the thaw is refused as well (the group is inaccessible or the client fenced there).
        var after = Assert.ThrowsAsync<NvmeStatusException>(async () => await ns1.WriteAsync(16, stale).AsTask().WaitAsync(TimeSpan.FromSeconds(120)));
        await kit.WaitRoleAsync("gw1", "fenced");

        string export = Path.Combine(Path.GetTempPath(), $"{kit.Image}.export");
        cluster.Rbd($"export rbd/{kit.Image} {export}");
        byte[] image = await File.ReadAllBytesAsync(export);
        File.Delete(export);
        TestContext.Progress.WriteLine(
            $"split brain (SIGSTOP owner, lease {GatewayGroupKit.Lease.TotalSeconds} s): frozen -> gw2 owner (after fencing gw1) {takenAt - frozenAt} ms; thawed at {thawedAt - frozenAt} ms; "
            + $"the stale write failed {failedAt - thawedAt} ms after the thaw with {error!.Status}; a new write with {after!.Status}");
        Assert.Multiple(() =>
        {
            // Refused, and worth retrying elsewhere: a path-related status (the group inaccessible there, or the
            // fenced client's error), or Namespace Not Ready without DNR when the thawed gateway's shared
            // reservation view has gone stale first (its RADOS watch was frozen too, past the 10 s freshness bound).
            Assert.That(RefusedForRetry(error.Status), Is.True, "path related or Namespace Not Ready, without DNR (" + error.Status + ")");
            Assert.That(RefusedForRetry(after.Status), Is.True, "path related or Namespace Not Ready, without DNR (" + after.Status + ")");
            Assert.That(image.AsSpan(0, 4096).SequenceEqual(a), Is.True, "block 0 as written before the freeze");
            Assert.That(image.AsSpan(8 * 512, 4096).SequenceEqual(fresh), Is.True, "block 8 holds the new owner's write, not the thawed gateway's");
            Assert.That(image.AsSpan(16 * 512, 4096).ToArray().All(b => b == 0), Is.True, "the write sent after the thaw never reached the image");
        });
    }

    [Test]
    public async Task PlannedMoveAndBack_WithoutErrors_AndDiscoveryListsBothGateways()
    {
        var cluster = RbdClusterFixture.Require();
        await using var kit = GatewayGroupKit.Create(cluster, ImageName("move"));
        await kit.StartAsync("gw1");
        await kit.WaitRoleAsync("gw1", "owner");
        await kit.StartAsync("gw2");
        await kit.WaitRoleAsync("gw2", "standby");

        var log = await NvmeDiscovery.GetLogAsync(NvmeControllerOptions.Default with { TargetPort = kit.DiscoveryPort, SubsystemNqn = "" });
        var paths = log.Where(e => e.SubsystemNqn == GatewayGroupKit.Nqn).Select(e => int.Parse(e.TransportServiceId, CultureInfo.InvariantCulture)).ToList();
        Assert.That(paths, Is.EquivalentTo(new[] { kit.Ports["gw1"], kit.Ports["gw2"] }), "gw1's discovery controller lists both gateways' ports");

        await using var c1 = await NvmeController.ConnectAsync(kit.Options("gw1"));
        await using var c2 = await NvmeController.ConnectAsync(kit.Options("gw2"));
        using var ns = await NvmeMultipathNamespace.OpenAsync([c1, c2], 1, failoverTimeout: TimeSpan.FromSeconds(90));
        var clock = Stopwatch.StartNew();
        var loop = new GatewayVerifyLoop(ns, clock);
        using var stop = new CancellationTokenSource();
        var workload = loop.RunAsync(stop.Token);
        await loop.WaitProgressAsync(100, "before the move");

        // Asked of the standby: it forwards the move to the owner (gw1), which releases to gw2.
        long movedAt = clock.ElapsedMilliseconds;
        var (status, body) = await kit.PostAsync("gw2", $"move?group={GatewayGroupKit.AnaGroup}&to=gw2");
        Assert.That(status, Is.EqualTo(200), body);
        await kit.WaitRoleAsync("gw2", "owner");
        await WaitPathsAsync(ns, c2);
        long onGw2 = clock.ElapsedMilliseconds;
        await loop.WaitProgressAsync(100, "after the move to gw2");

        long backAt = clock.ElapsedMilliseconds;
        var (code, output) = await CliAsync("gateway", "move", "--control", $"http://127.0.0.1:{kit.Metrics["gw2"]}/metrics", "--group", "2", "--to", "gw1");
        Assert.That(code, Is.Zero, output);
        await kit.WaitRoleAsync("gw1", "owner");
        await WaitPathsAsync(ns, c1);
        long onGw1 = clock.ElapsedMilliseconds;
        await loop.WaitProgressAsync(100, "after the move back");
        await stop.CancelAsync();
        await workload;

        var gw1 = await kit.StatusAsync("gw1");
        var gw2 = await kit.StatusAsync("gw2");
        (code, output) = await CliAsync("status", "-a", "127.0.0.1", "-s", kit.Ports["gw2"].ToString(CultureInfo.InvariantCulture), "-n", GatewayGroupKit.Nqn,
            "--control", $"http://127.0.0.1:{kit.Metrics["gw2"]}/metrics");
        Assert.That(code, Is.Zero, output);
        Assert.That(output, Does.Match(@"ANA group 2 +standby +ports inaccessible +owner gw1, lease age [0-9.]+ s, fenced peers 0"));

        // Live reload: gw2's standby ports turn non-optimized without a restart.
        await kit.RewriteAsync("gw2", "non-optimized");
        var reload = Stopwatch.StartNew();
        while (await kit.PortStateAsync("gw2") != "non-optimized")
        {
            Assert.That(reload.Elapsed, Is.LessThan(TimeSpan.FromSeconds(60)), "StandbyState reload not applied");
            await Task.Delay(100);
        }

        await WaitPathsAsync(ns, c1);
        TestContext.Progress.WriteLine($"planned move: gw1 -> gw2 host on gw2 after {onGw2 - movedAt} ms; back: host on gw1 after {onGw1 - backAt} ms; longest I/O gap {loop.LongestGap.GapMs} ms");
        Assert.Multiple(() =>
        {
            Assert.That(loop.Problems, Is.Empty);
            Assert.That(gw1.Fenced + gw2.Fenced, Is.Zero, "planned moves fence nobody");
            Assert.That(gw2.Role, Is.EqualTo("standby"));
        });
    }

    private static async Task<(int Code, string Output)> CliAsync(params string[] args)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        int code = await Cli.Program.RunAsync(args, output, error, Stream.Null, Stream.Null, CancellationToken.None).WaitAsync(TimeSpan.FromMinutes(2));
        return (code, output.ToString() + error);
    }

    private static async Task WaitPathsAsync(NvmeMultipathNamespace ns, NvmeController only)
    {
        var deadline = Stopwatch.StartNew();
        while (!ns.ActivePaths.Select(p => p.Controller).SequenceEqual([only]))
        {
            if (deadline.Elapsed > TimeSpan.FromSeconds(60))
            {
                Assert.Fail("the host's active path did not move");
            }

            await Task.Delay(5);
        }
    }

    private static byte[] Pattern(byte value)
    {
        var data = new byte[4096];
        Array.Fill(data, value);
        return data;
    }
}
