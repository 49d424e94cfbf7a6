using System.Diagnostics;
using System.Globalization;
using NvmeMptls.Initiator;
using NvmeMptls.IntegrationTests.TestKit;

namespace NvmeMptls.IntegrationTests.Soak;

/// <summary>
/// The soak under faults (issue 12): the real target process (file namespace, TLS required, MPTCP required) in the
/// two-path test bed, two initiators running verified mixed I/O at QD32 each, while paths flap, addresses go and
/// come back, subflows and whole connections are cut, the target is restarted (SIGTERM) once and killed (SIGKILL)
/// once, and a hostile peer sends malformed PDUs and drip-fed connections. Ends with: no mismatch, no durable write
/// lost (checked right after the kill -9 and at the end), no unexplained error, the target's RSS and descriptors
/// back near the baseline, and one summary line. Length: NVMEMPTLS_SOAK_SECONDS (default 150; 3600 for the hour).
/// </summary>
[TestFixture]
[NonParallelizable]
public sealed class SoakTests : TestbedFixture
{
    public const string LengthVariable = "NVMEMPTLS_SOAK_SECONDS";
    private const int DefaultSeconds = 150;
    private const int QueueDepth = 32;
    private const int SlotsPerInitiator = 1024; // 64 MiB each
    private const long NamespaceBytes = 512L << 20;
    private const long RssToleranceBytes = 64L << 20;
    private const int DescriptorTolerance = 8;
    private const int HammerLoops = 4;
    private const string Key = "NVMeTLSkey-1:01:VRLbtnN9AQb2WXW3c9+wEf/DRLz0QuLdbYvEhwtdWwNf9LrZ:";

    protected override string Tag => "soak";

    /// <summary>The soak's length in seconds: NVMEMPTLS_SOAK_SECONDS, at least 60.</summary>
    public static int Seconds()
    {
        var text = Environment.GetEnvironmentVariable(LengthVariable);
        if (string.IsNullOrWhiteSpace(text))
        {
            return DefaultSeconds;
        }

        if (!int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var seconds) || seconds < 60 || seconds > 86400)
        {
            throw new ArgumentException($"{LengthVariable}='{text}': must be a whole number of seconds from 60 to 86400");
        }

        return seconds;
    }

    [Test]
    public async Task Soak_TwoInitiatorsUnderFaultsRestartsAndHostilePeer_NothingLostNoLeak()
    {
        var seconds = Seconds();
        var length = TimeSpan.FromSeconds(seconds);
        var dir = Directory.CreateTempSubdirectory("soak-");
        var errors = new SoakErrors();
        var faults = new SoakFaults(Bed, errors);
        var hostile = new SoakHostile(Bed, Key);
        var log = new List<string>();
        var clock = Stopwatch.StartNew();
        var random = new Random(12);
        void Note(string text)
        {
            var line = string.Create(CultureInfo.InvariantCulture, $"[{clock.Elapsed.TotalSeconds,6:0.0} s] {text}");
            lock (log)
            {
                log.Add(line);
            }

            TestContext.Progress.WriteLine("soak " + line);
        }

        await using var target = new SoakTarget(Bed, Path.Combine(dir.FullName, "soak.img"), NamespaceBytes, Key);
        var initiators = new List<SoakInitiator>();
        try
        {
            await target.StartAsync();
            initiators.Add(await ConnectAsync(1, EndToEndKit.HostNqnA, errors));
            initiators.Add(await ConnectAsync(2, EndToEndKit.HostNqnB, errors));
            Note($"target pid {target.Pid} serving; 2 initiators live, QD{QueueDepth} each, {length.TotalSeconds} s");

            using var stopIo = new CancellationTokenSource();
            var load = Task.WhenAll(initiators.Select(i => i.RunAsync(QueueDepth, stopIo.Token)));
            int gracefulExit = -1, finalExit = -1;
            long durableChecked = 0;

            // Phase 1: faults and the hostile peer, then the graceful restart in the middle of them.
            await FaultPhaseAsync(At(0.25));
            var restart = DateTime.UtcNow;
            gracefulExit = await target.StopGracefullyAsync();
            Note($"SIGTERM: target exited {gracefulExit}");
            await target.StartAsync();
            errors.Fault("graceful restart", restart);
            Note($"target restarted (pid {target.Pid})");

            // Phase 2: more faults, then kill -9 and the check of every durable write.
            await FaultPhaseAsync(At(0.45));
            var kill = DateTime.UtcNow;
            foreach (var i in initiators)
            {
                i.Pause(); // what is in flight at the kill is resent after the restart; nothing new starts before the check
            }

            await target.KillNineAsync();
            Note("SIGKILL sent, target gone");
            await target.StartAsync();
            errors.Fault("kill -9", kill);
            Note($"target started after kill -9 (pid {target.Pid}); draining the load to check the ledger");
            foreach (var i in initiators)
            {
                await i.DrainAsync();
            }

            foreach (var i in initiators)
            {
                durableChecked += await i.VerifyAllAsync("after kill -9");
            }

            errors.Fault("kill -9", kill); // the pause and full read-back belong to the same window
            foreach (var i in initiators)
            {
                i.Resume();
            }

            Note($"after kill -9: {durableChecked} durable 4 KiB units read back, lost so far {errors.LostWrites}, mismatches so far {errors.Mismatches}");

            // Baseline of this incarnation, under load with no fault, then phase 3 of faults and a quiet tail.
            await Task.Delay(TimeSpan.FromSeconds(8));
            var rssBase = target.ResidentBytes();
            var fdTargetsBase = target.DescriptorTargets();
            var fdsBase = fdTargetsBase.Count(t => !SoakTarget.IsAssembly(t));
            var clientFdsBase = Directory.GetFileSystemEntries("/proc/self/fd").Length;
            var subflowsBase = target.SocketStates().GetValueOrDefault("tcp ESTAB");
            Note($"baseline: RSS {Mib(rssBase)} MiB, {fdsBase} fds besides assemblies; this (initiator) process {clientFdsBase} fds; target {target.DescriptorReport()}");
            await FaultPhaseAsync(At(0.85));
            Note("faults over; quiet tail");
            faults.Restore();
            var settle = At(1.0) - clock.Elapsed - TimeSpan.FromSeconds(2);
            await Task.Delay(settle > TimeSpan.FromSeconds(10) ? settle : TimeSpan.FromSeconds(10));
            var rssEnd = target.ResidentBytes();
            var fdTargetsEnd = target.DescriptorTargets();
            var fdsEnd = fdTargetsEnd.Count(t => !SoakTarget.IsAssembly(t));
            var assembliesBase = fdTargetsBase.Count(SoakTarget.IsAssembly);
            var assembliesEnd = fdTargetsEnd.Count(SoakTarget.IsAssembly);
            var newTargets = fdTargetsEnd.Except(fdTargetsBase, StringComparer.Ordinal).Select(Path.GetFileName).ToList();
            Note($"descriptors opened since the baseline: {(newTargets.Count == 0 ? "none" : string.Join(", ", newTargets))}");
            var clientFdsEnd = Directory.GetFileSystemEntries("/proc/self/fd").Length;
            var subflowsEnd = target.SocketStates().GetValueOrDefault("tcp ESTAB");
            Note($"end: RSS {Mib(rssEnd)} MiB, {fdsEnd} fds besides assemblies; this (initiator) process {clientFdsEnd} fds; target {target.DescriptorReport()}");

            foreach (var i in initiators)
            {
                Note(i.Describe());
            }

            await stopIo.CancelAsync();
            await load.WaitAsync(TimeSpan.FromSeconds(200));
            foreach (var i in initiators)
            {
                await i.PauseAsync();
                if (!await WaitLiveAsync(i, TimeSpan.FromSeconds(60)))
                {
                    Note($"not live 60 s after the faults: {i.Describe()}; its log:\n{i.Log.Tail()}");
                }

                await i.VerifyAllAsync("final read-back");
            }

            foreach (var i in initiators)
            {
                await DisposeBoundedAsync(i, errors);
            }

            finalExit = await target.StopGracefullyAsync();

            var (explained, unexplained) = errors.Classify();
            unexplained.AddRange(target.CrashLines().Select(l => "target: " + l));
            long reads = initiators.Sum(i => i.Reads), writes = initiators.Sum(i => i.Writes), fua = initiators.Sum(i => i.FuaWrites),
                flushes = initiators.Sum(i => i.Flushes), units = initiators.Sum(i => i.VerifiedUnits), reconnects = initiators.Sum(i => i.Reconnects);
            var summary = string.Create(CultureInfo.InvariantCulture,
                $"soak: {seconds} s, 2 initiators, {reads + writes + fua + flushes:N0} I/Os verified ({reads:N0} reads, {writes + fua:N0} writes of which {fua:N0} FUA, {flushes:N0} flushes; {units:N0} 4 KiB blocks compared), "
                + $"{faults.PathFlaps} path flaps, {faults.AddressFlaps} address flaps, {faults.SubflowCuts + faults.ConnectionCuts} cuts ({faults.SubflowCuts} subflow, {faults.ConnectionCuts} all-connection, {faults.SocketsKilled} sockets), "
                + $"1 restart, 1 kill -9, {hostile.MalformedPdus:N0} hostile PDUs ({hostile.TermReqs:N0} TermReqs), {hostile.DripConnections} drip conns ({hostile.DripClosedEarly} closed before 8 s by the target or a cut); "
                + $"{errors.Mismatches} mismatches, {errors.LostWrites} lost writes ({durableChecked:N0} durable blocks checked after kill -9), {unexplained.Count} unexplained errors ({explained.Values.Sum()} explained), "
                + $"{reconnects} reconnects, subflows {subflowsBase}->{subflowsEnd}; RSS {Mib(rssBase)}->{Mib(rssEnd)} MiB, fds {fdsBase}->{fdsEnd} (+ assemblies {assembliesBase}->{assembliesEnd})");
            Note("explained errors by fault: " + (explained.Count == 0 ? "none" : string.Join(", ", explained.Select(kv => $"{kv.Key} {kv.Value}"))));
            Note($"hostile: {hostile.TlsSessions} TLS sessions, {hostile.ClosedWithoutTermReq} closed without TermReq, {hostile.Unanswered} unanswered after 4 s, {hostile.HeldOpen} plaintext/garbage connections still open after 2 s, {hostile.ConnectFailures} connects failed; {hostile.DripBytes} bytes dripped");
            Note("target log, warnings and errors by event: " + target.ProblemSummary());
            Note("target log, exceptions: " + target.ExceptionSummary());
            Note("target shutdowns:\n  " + string.Join("\n  ", target.ShutdownLines()));
            TestContext.Out.WriteLine(string.Join('\n', log));
            TestContext.Out.WriteLine("fault windows:\n" + errors.Timeline());
            TestContext.Out.WriteLine(summary);
            TestContext.Progress.WriteLine(summary);

            Assert.Multiple(() =>
            {
                Assert.That(errors.Mismatches + errors.LostWrites, Is.Zero, "data mismatches:\n" + string.Join('\n', errors.MismatchSamples));
                Assert.That(unexplained, Is.Empty, "unexplained errors");
                Assert.That(gracefulExit, Is.Zero, "exit code of the target on SIGTERM in the middle of the load");
                Assert.That(finalExit, Is.Zero, "exit code of the target on the final SIGTERM");
                Assert.That(rssEnd, Is.LessThanOrEqualTo(rssBase + Math.Max(RssToleranceBytes, rssBase / 2)),
                    $"target RSS after the faults: {Mib(rssBase)} -> {Mib(rssEnd)} MiB (tolerance +{Mib(RssToleranceBytes)} MiB or +50 %)");
                Assert.That(fdsEnd, Is.LessThanOrEqualTo(fdsBase + DescriptorTolerance), $"target descriptors other than loaded assemblies after the faults: {fdsBase} -> {fdsEnd}");
                Assert.That(durableChecked, Is.GreaterThan(0), "durable writes existed to be checked after kill -9");
                Assert.That(reads, Is.GreaterThan(0), "reads ran");
                Assert.That(fua, Is.GreaterThan(0), "FUA writes ran");
                Assert.That(flushes, Is.GreaterThan(0), "flushes ran");
                Assert.That(initiators.Select(i => i.Reconnects), Has.All.GreaterThanOrEqualTo(2), "each initiator reconnected after the restart and the kill -9");
                Assert.That(hostile.MalformedPdus, Is.GreaterThan(0), "the hostile peer got malformed PDUs through");
                Assert.That(hostile.DripConnections, Is.GreaterThan(0), "the hostile peer held drip-fed connections");
            });
        }
        catch
        {
            TestContext.Out.WriteLine(string.Join('\n', log));
            TestContext.Out.WriteLine("fault windows:\n" + errors.Timeline());
            TestContext.Out.WriteLine("target log (tail):\n" + Tail(target.Log, 200));
            foreach (var i in initiators)
            {
                TestContext.Out.WriteLine($"{i.Describe()}; log (tail):\n{i.Log.Tail()}");
            }

            throw;
        }
        finally
        {
            faults.Restore();
            foreach (var i in initiators)
            {
                await DisposeBoundedAsync(i, errors);
            }

            await target.DisposeAsync();
            dir.Delete(recursive: true);
        }

        TimeSpan At(double fraction) => length * fraction;

        // Faults one after another (a few seconds apart) and the hostile peer, until the clock reaches `until`.
        async Task FaultPhaseAsync(TimeSpan until)
        {
            using var stopHostile = new CancellationTokenSource();
            var hammerSeeds = Enumerable.Range(0, HammerLoops).Select(_ => random.Next()).ToArray();
            var dripSeed = random.Next();
            var hammer = Task.WhenAll(hammerSeeds.Select(seed => Task.Run(() => hostile.HammerAsync(new Random(seed), stopHostile.Token))));
            var dripWaves = Task.Run(async () =>
            {
                // Waves of 50 drip-fed connections held up to 8 s, 10 s apart, while the phase lasts (at least one).
                var dripRandom = new Random(dripSeed);
                while (true)
                {
                    await hostile.DripWaveAsync(dripRandom, 50, TimeSpan.FromSeconds(8));
                    if (clock.Elapsed >= until - TimeSpan.FromSeconds(20))
                    {
                        break;
                    }

                    await Task.Delay(TimeSpan.FromSeconds(10));
                }
            });
            while (clock.Elapsed < until - TimeSpan.FromSeconds(3))
            {
                await Task.Delay(TimeSpan.FromMilliseconds(500 + random.Next(1500)));
                Note(await faults.InjectOneAsync(random));
            }

            await dripWaves.WaitAsync(TimeSpan.FromSeconds(60));
            await stopHostile.CancelAsync();
            await hammer.WaitAsync(TimeSpan.FromSeconds(60));
        }
    }

    /// <summary>
    /// The negative control of the ledger check: on a memory namespace a kill -9 loses every write, so the same
    /// check that must find nothing lost on the file namespace has to report lost durable writes here.
    /// </summary>
    [Test]
    public async Task LedgerCheck_MemoryNamespaceKilledNine_ReportsTheLostDurableWrites()
    {
        var dir = Directory.CreateTempSubdirectory("soak-");
        var errors = new SoakErrors();
        await using var target = new SoakTarget(Bed, Path.Combine(dir.FullName, "unused.img"), 256L << 20, Key, memory: true);
        SoakInitiator? initiator = null;
        try
        {
            await target.StartAsync();
            initiator = await ConnectAsync(1, EndToEndKit.HostNqnA, errors);
            using var stopIo = new CancellationTokenSource();
            var load = initiator.RunAsync(QueueDepth, stopIo.Token);
            await Task.Delay(TimeSpan.FromSeconds(5));
            initiator.Pause();
            await target.KillNineAsync();
            await target.StartAsync();
            await initiator.DrainAsync();
            var durable = await initiator.VerifyAllAsync("after kill -9 of a memory namespace");
            await stopIo.CancelAsync();
            initiator.Resume();
            await load.WaitAsync(TimeSpan.FromSeconds(200));
            TestContext.Out.WriteLine($"memory namespace, kill -9: {durable} durable units checked, {errors.LostWrites} lost, {errors.Mismatches} other mismatches\n"
                + string.Join('\n', errors.MismatchSamples.Take(5)));

            Assert.That(durable, Is.GreaterThan(0), "flushed or FUA writes before the kill");
            // The writes in flight at the kill are resent to the new, empty namespace; everything durable before is gone.
            Assert.That(errors.LostWrites, Is.GreaterThanOrEqualTo(durable * 9 / 10), "durable units read back as zeros and are reported lost");
            Assert.That(errors.MismatchSamples, Has.Some.Contains("LOST durable write").And.Some.Contains("found zeros"));
        }
        finally
        {
            if (initiator is not null)
            {
                await DisposeBoundedAsync(initiator, errors);
            }

            await target.DisposeAsync();
            dir.Delete(recursive: true);
        }
    }

    private static async Task<bool> WaitLiveAsync(SoakInitiator initiator, TimeSpan limit)
    {
        var deadline = DateTime.UtcNow + limit;
        while (initiator.Controller.State != NvmeControllerState.Live && DateTime.UtcNow < deadline)
        {
            await Task.Delay(100);
        }

        return initiator.Controller.State == NvmeControllerState.Live;
    }

    /// <summary>Closes an initiator's controller; a close that does not end in 30 s is recorded as a hang, not waited for.</summary>
    private static async Task DisposeBoundedAsync(SoakInitiator initiator, SoakErrors errors)
    {
        try
        {
            await initiator.Controller.DisposeAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(30));
        }
        catch (TimeoutException)
        {
            errors.Error(initiator.Id, "close", $"the controller's close did not end in 30 s; {initiator.Describe()}", hang: true);
            TestContext.Out.WriteLine($"{initiator.Describe()}: close did not end in 30 s; its log:\n{initiator.Log.Tail()}");
        }
    }

    private async Task<SoakInitiator> ConnectAsync(int id, string hostNqn, SoakErrors errors)
    {
        var options = NvmeControllerOptions.Default with
        {
            TargetAddress = Testbed.TargetAddress(1).ToString(),
            TargetPort = SoakTarget.Port,
            SubsystemNqn = SoakTarget.SubsystemNqn,
            HostNqn = hostNqn,
            HostId = Guid.Parse(hostNqn[^36..]),
            IoQueueCount = 2,
            Multipath = NvmeMultipathPolicy.Required,
            ExpectedPaths = 2,
            NetworkNamespace = Bed.InitiatorNamespace,
            ReconnectDelay = TimeSpan.FromMilliseconds(250),
            ControllerLossTimeout = TimeSpan.FromSeconds(120),
            ConnectTimeout = TimeSpan.FromSeconds(5),
            Tls = true,
            TlsKey = Key,
        };
        var log = new SoakClientLog($"initiator {id}");
        var controller = await NvmeController.ConnectAsync(options, logger: log).WaitAsync(EndToEndKit.HangLimit);
        var ns = await controller.OpenNamespaceAsync(1);
        var first = (id - 1) * (128L << 20);
        return new SoakInitiator(id, controller, ns, first, SlotsPerInitiator, errors, log);
    }

    private static long Mib(long bytes) => bytes >> 20;

    private static string Tail(string text, int lines)
    {
        var all = text.Split('\n');
        return string.Join('\n', all.Skip(Math.Max(0, all.Length - lines)));
    }
}
