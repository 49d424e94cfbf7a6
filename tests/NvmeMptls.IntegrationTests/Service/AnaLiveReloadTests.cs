using System.Net;
using NvmeMptls.IntegrationTests.TestKit;
using NvmeMptls.Target.Configuration;
using NvmeMptls.TestKit;
using NvmeMptls.Transport.Nvme;

namespace NvmeMptls.IntegrationTests.Service;

/// <summary>
/// The real service with two ports: swapping the ports' ANA states in the configuration file moves the optimized
/// path live — each port's controller gets an ANA Change notice, log 0Ch and the I/O statuses follow, and I/O of the
/// group that did not move runs through the reload without one error.
/// </summary>
[TestFixture]
[NonParallelizable]
public sealed class AnaLiveReloadTests
{
    internal const string Nqn = "nqn.2026-01.io.nvmemptls:ana-reload";

    internal static string Config(int port1, int port2, int metrics, string states1, string states2) => $$"""
        {
          "Target": {
            "Subsystems": [ { "Nqn": "{{Nqn}}", "Namespaces": [
              { "Nsid": 1, "Backing": "memory", "Size": "16MiB" },
              { "Nsid": 2, "Backing": "memory", "Size": "16MiB", "AnaGroup": 2 } ] } ],
            "Ports": [
              { "Id": 1, "Address": "127.0.0.1", "Port": {{port1}}, "AnaStates": { {{states1}} } },
              { "Id": 2, "Address": "127.0.0.1", "Port": {{port2}}, "AnaStates": { {{states2}} } } ],
            "Ana": { "TransitionTimeSeconds": 15 },
            "Metrics": { "Enabled": true, "Url": "http://127.0.0.1:{{metrics}}/metrics" },
            "ShutdownGracePeriod": "00:00:05"
          }
        }
        """;

    private static async Task<AnaState> GroupStateAsync(RawNvmeHost admin, uint group)
    {
        var log = await admin.GetLogPageAsync(LogPageIds.AsymmetricNamespaceAccess, AnaLogPage.MaxSize(128, 1024));
        Assert.That(log.Status.IsSuccess, Is.True, log.Status.ToString());
        Assert.That(AnaLogPage.TryRead(log.Data, 128, out var page, out var error), Is.True, error);
        return page!.Groups.Single(g => g.GroupId == group).State;
    }

    [Test]
    public async Task Reload_SwapsTheOptimizedPort_NoticesBothControllers_AndGroupOneIoNeverFails()
    {
        var dir = Directory.CreateTempSubdirectory("nvmemptls-ana-").FullName;
        try
        {
            int port1 = TargetProcess.FreePort(), port2 = TargetProcess.FreePort(), metrics = TargetProcess.FreePort();
            var config = Path.Combine(dir, "target.json");
            await File.WriteAllTextAsync(config, Config(port1, port2, metrics, "\"2\": \"optimized\"", "\"2\": \"inaccessible\""));
            await using var target = await InProcessTarget.StartAsync(config);
            var applied = new TaskCompletionSource<TargetOptions>(TaskCreationOptions.RunContinuationsAsynchronously);
            target.Service.OptionsApplied += o => applied.TrySetResult(o);

            var ep1 = new IPEndPoint(IPAddress.Loopback, port1);
            var ep2 = new IPEndPoint(IPAddress.Loopback, port2);
            await using var admin1 = await RawNvmeHost.OpenAsync(ep1, Nqn, 0);
            await using var io1 = await RawNvmeHost.OpenAsync(ep1, Nqn, 1, admin1.ControllerId);
            await using var admin2 = await RawNvmeHost.OpenAsync(ep2, Nqn, 0);
            await using var io2 = await RawNvmeHost.OpenAsync(ep2, Nqn, 1, admin2.ControllerId);
            foreach (var admin in new[] { admin1, admin2 })
            {
                Assert.That((await admin.SetFeatureAsync(FeatureIds.AsyncEventConfig, AsyncEvent.ConfigAnaChange)).Status.IsSuccess, Is.True);
            }

            Assert.That(await GroupStateAsync(admin1, 2), Is.EqualTo(AnaState.Optimized));
            Assert.That(await GroupStateAsync(admin2, 2), Is.EqualTo(AnaState.Inaccessible));
            Assert.That((await io1.WriteAsync(2, 0, new byte[512])).Status.IsSuccess, Is.True);
            Assert.That((await io2.WriteAsync(2, 0, new byte[512])).Status, Is.EqualTo(new NvmeStatus(NvmeStatusCodes.AnaInaccessible)));
            var aer1 = admin1.AsyncEventRequestAsync();
            var aer2 = admin2.AsyncEventRequestAsync();

            // Namespace 1 (group 1, optimized on both ports) is written and read back on both paths all along.
            using var stop = new CancellationTokenSource();
            var problems = new List<string>();
            var workload = Task.Run(async () =>
            {
                var data = new byte[512];
                for (var i = 0; !stop.IsCancellationRequested; i++)
                {
                    var io = i % 2 == 0 ? io1 : io2;
                    BitConverter.TryWriteBytes(data, i);
                    var w = await io.WriteAsync(1, (ulong)(i % 512), data);
                    var r = await io.ReadAsync(1, (ulong)(i % 512), 512);
                    if (!w.Status.IsSuccess || !r.Status.IsSuccess || BitConverter.ToInt32(r.Data) != i)
                    {
                        lock (problems)
                        {
                            problems.Add($"iteration {i}: write {w.Status}, read {r.Status}");
                        }
                    }
                }
            });

            await File.WriteAllTextAsync(config, Config(port1, port2, metrics, "\"2\": \"inaccessible\"", "\"2\": \"optimized\""));
            await applied.Task.WaitAsync(TimeSpan.FromSeconds(30));
            var n1 = await aer1.WaitAsync(TimeSpan.FromSeconds(10));
            var n2 = await aer2.WaitAsync(TimeSpan.FromSeconds(10));
            Assert.Multiple(() =>
            {
                Assert.That(AsyncEvent.FromDw0(n1.Dw0), Is.EqualTo(AsyncEvent.AnaChange), "port 1's controller");
                Assert.That(AsyncEvent.FromDw0(n2.Dw0), Is.EqualTo(AsyncEvent.AnaChange), "port 2's controller");
            });
            Assert.That(await GroupStateAsync(admin1, 2), Is.EqualTo(AnaState.Inaccessible));
            Assert.That(await GroupStateAsync(admin2, 2), Is.EqualTo(AnaState.Optimized));
            Assert.That((await io1.WriteAsync(2, 0, new byte[512])).Status, Is.EqualTo(new NvmeStatus(NvmeStatusCodes.AnaInaccessible)));
            Assert.That((await io2.WriteAsync(2, 0, new byte[512])).Status.IsSuccess, Is.True);

            // The listeners were not restarted: a new association on port 1 comes up at once.
            await using (var again = await RawNvmeHost.OpenAsync(ep1, Nqn, 0))
            {
                Assert.That(again.ControllerId, Is.Not.Zero);
            }

            await stop.CancelAsync();
            await workload;
            Assert.That(problems, Is.Empty);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
