using System.Diagnostics;
using System.Globalization;
using NvmeMptls.Crypto.Auth;
using NvmeMptls.Initiator;
using NvmeMptls.Target.Configuration;
using NvmeMptls.Target.Auth;
using NvmeMptls.TestKit;
using NvmeMptls.Transport.Nvme.Auth;

namespace NvmeMptls.IntegrationTests.Bench;

/// <summary>
/// What one DH-HMAC-CHAP authentication costs per DH group (issue 13): our initiator and our target over loopback
/// TCP, one admin queue, SHA-256, bidirectional (both ends compute a response and, with a group, a key pair and the
/// shared secret). Each sample is one whole transaction (Negotiate … Success2) started by
/// <see cref="NvmeController.ReauthenticateAsync"/> on the live queue. Prints min / median / max; asserts only that
/// every authentication succeeded (no timing assertions). Run:
/// <c>dotnet test tests/NvmeMptls.IntegrationTests -c Release --no-build --filter "FullyQualifiedName~DhChapCostTests" --logger "console;verbosity=detailed"</c>
/// (NVMEMPTLS_DHCHAP_SAMPLES sets the samples per group, default 15).
/// </summary>
[TestFixture]
[NonParallelizable]
[Category("Bench")]
public sealed class DhChapCostTests
{
    private const string HostNqn = "nqn.2014-08.org.nvmexpress:uuid:dc1a0000-0000-4000-8000-00000000be4c";
    private const string HostSecret = "DHHC-1:01:jWiK0NeSweQjGFEI9c4bjHV792NxG/KQG1mAfCQAiRlmCljm:";
    private const string ControllerSecret = "DHHC-1:02:IqZJ7OfqOcbH0Af+bm4QWrh1+LEEV/Fp7yjgZUKwF68+VcPR6Us+ZRxzSiFThNry7h7rwQ==:";

    [Test]
    public async Task OneAuthenticationPerDhGroup_MinMedianMax_IsPrinted()
    {
        int samples = int.TryParse(Environment.GetEnvironmentVariable("NVMEMPTLS_DHCHAP_SAMPLES"), CultureInfo.InvariantCulture, out int n) && n > 0 ? n : 15;
        var report = new List<string> { $"DH-HMAC-CHAP, SHA-256, bidirectional, loopback TCP, admin queue; {samples} samples per group ({Environment.ProcessorCount} CPUs)" };
        foreach (var group in new[] { DhChapGroupId.Null, DhChapGroupId.Ffdhe2048, DhChapGroupId.Ffdhe3072, DhChapGroupId.Ffdhe4096, DhChapGroupId.Ffdhe6144, DhChapGroupId.Ffdhe8192 })
        {
            await using var target = LoopbackTarget.Start(namespaceBytes: 1 << 20, multipath: MultipathMode.Disabled);
            target.Server.Registry.Authentication = new HostAuthentication(
            [
                new HostAuthenticationEntry(HostNqn, LoopbackTarget.SubsystemNqn, new DhChapHostKeys(
                    DhChapSecret.Parse(HostSecret), DhChapSecret.Parse(ControllerSecret), [DhChapHashId.Sha256], [group])),
            ]);
            await using var controller = await NvmeController.ConnectAsync(NvmeControllerOptions.Default with
            {
                TargetPort = target.Port,
                SubsystemNqn = LoopbackTarget.SubsystemNqn,
                HostNqn = HostNqn,
                IoQueueCount = 0,
                Multipath = NvmeMultipathPolicy.Disabled,
                DhChapSecret = HostSecret,
                DhChapControllerSecret = ControllerSecret,
                CommandTimeout = TimeSpan.FromSeconds(60),
            });
            await controller.ReauthenticateAsync(); // warm-up
            var times = new double[samples];
            for (int i = 0; i < samples; i++)
            {
                long start = Stopwatch.GetTimestamp();
                await controller.ReauthenticateAsync();
                times[i] = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
            }

            Array.Sort(times);
            double median = samples % 2 == 1 ? times[samples / 2] : (times[(samples / 2) - 1] + times[samples / 2]) / 2;
            long successes = Interlocked.Read(ref target.Server.Registry.Counters.AuthenticationsByOutcome[(int)AuthenticationOutcome.Success]);
            Assert.That(successes, Is.EqualTo(samples + 2), "connect, warm-up and every sample authenticated");
            report.Add(string.Create(CultureInfo.InvariantCulture,
                $"{DhChapNames.Of(group),-9} min {times[0],8:F2} ms  median {median,8:F2} ms  max {times[^1],8:F2} ms"));
        }

        foreach (string line in report)
        {
            await TestContext.Out.WriteLineAsync(line);
        }
    }
}
