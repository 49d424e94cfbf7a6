using System.Buffers.Binary;
using NvmeMptls.IntegrationTests.TestKit;
using NvmeMptls.Target.Configuration;
using NvmeMptls.TestKit;
using NvmeMptls.Transport.Nvme;

namespace NvmeMptls.IntegrationTests.Service;

/// <summary>An edited configuration file is applied to the running target without disturbing untouched namespaces.</summary>
[TestFixture]
[NonParallelizable]
public sealed class LiveReloadTests
{
    private const string Nqn = "nqn.2026-01.io.nvmemptls:reload-test";
    private const string Ns1 = """{ "Nsid": 1, "Backing": "memory", "Size": "32MiB" }""";
    private const string Ns2 = """{ "Nsid": 2, "Backing": "memory", "Size": "32MiB" }""";
    private const string Ns3 = """{ "Nsid": 3, "Backing": "memory", "Size": "8MiB" }""";

    [Test]
    public async Task Reload_AddsNamespaceSeenThroughAerAndChangedList_RemovesAnotherWithoutDisturbingIoOnTheFirst()
    {
        var dir = Directory.CreateTempSubdirectory("nvmemptls-reload-").FullName;
        try
        {
            var ioPort = TargetProcess.FreePort();
            var metricsPort = TargetProcess.FreePort();
            var config = Path.Combine(dir, "target.json");
            await File.WriteAllTextAsync(config, InProcessTarget.Config(ioPort, metricsPort, Nqn, $"{Ns1}, {Ns2}"));
            await using var target = await InProcessTarget.StartAsync(config);
            var applied = new TaskCompletionSource<TargetOptions>(TaskCreationOptions.RunContinuationsAsynchronously);
            target.Service.OptionsApplied += o => applied.TrySetResult(o);

            await using var admin = await RawNvmeHost.OpenAsync(target.IoEndPoint, Nqn, 0);
            await using var io = await RawNvmeHost.OpenAsync(target.IoEndPoint, Nqn, 1, admin.ControllerId);

            // Namespace Attribute Notices on (Asynchronous Event Configuration bit 8), then one AER outstanding.
            Assert.That((await admin.SetFeatureAsync(FeatureIds.AsyncEventConfig, 1u << 8)).Status.IsSuccess, Is.True);
            var aer = admin.AsyncEventRequestAsync();

            // I/O on namespace 1 runs all through the reload, each block verified after it is written.
            using var stop = new CancellationTokenSource();
            var problems = new List<string>();
            var completed = 0;
            var workload = Task.Run(async () =>
            {
                var data = new byte[4096];
                for (var i = 0; !stop.IsCancellationRequested; i++)
                {
                    var lba = (ulong)(i % 1000) * 8;
                    BinaryPrimitives.WriteInt32LittleEndian(data, i);
                    var w = await io.WriteAsync(1, lba, data);
                    var r = await io.ReadAsync(1, lba, 4096);
                    if (!w.Status.IsSuccess || !r.Status.IsSuccess || BinaryPrimitives.ReadInt32LittleEndian(r.Data) != i)
                    {
                        lock (problems)
                        {
                            problems.Add($"iteration {i}: write {w.Status}, read {r.Status}");
                        }
                    }

                    Interlocked.Increment(ref completed);
                }
            });

            Assert.That((await io.ReadAsync(2, 0, 512)).Status.IsSuccess, Is.True, "namespace 2 serves before the reload");
            await File.WriteAllTextAsync(config, InProcessTarget.Config(ioPort, metricsPort, Nqn, $"{Ns1}, {Ns3}"));
            var now = await applied.Task.WaitAsync(TimeSpan.FromSeconds(30));
            Assert.That(now.Subsystems[0].Namespaces.Select(n => n.Nsid), Is.EqualTo(new uint[] { 1, 3 }));

            var ev = await aer.WaitAsync(TimeSpan.FromSeconds(10));
            Assert.That(ev.Status.IsSuccess, Is.True);
            Assert.That(ev.Dw0 & 0xFFFFFF, Is.EqualTo(0x040002u), "Notice / Namespace Attribute Changed / log page 04h");

            var log = await admin.GetLogPageAsync(LogPageIds.ChangedNamespaceList, 4096);
            Assert.That(log.Status.IsSuccess, Is.True);
            var changed = new List<uint>();
            for (var i = 0; i < 1024; i++)
            {
                var nsid = BinaryPrimitives.ReadUInt32LittleEndian(log.Data.AsSpan(i * 4));
                if (nsid == 0)
                {
                    break;
                }

                changed.Add(nsid);
            }

            Assert.That(changed, Does.Contain(3u).And.Contain(2u));
            Assert.That((await io.ReadAsync(3, 0, 512)).Status.IsSuccess, Is.True, "the added namespace serves I/O");
            Assert.That((await io.ReadAsync(2, 0, 512)).Status.StatusCode, Is.EqualTo((byte)NvmeStatusCodes.InvalidNamespace), "the removed namespace is gone");

            var before = Volatile.Read(ref completed);
            while (Volatile.Read(ref completed) < before + 20)
            {
                await Task.Delay(10);
            }

            await stop.CancelAsync();
            await workload;
            Assert.That(problems, Is.Empty);

            var scrape = await MetricsScrape.FetchAsync(target.MetricsUrl);
            Assert.That(scrape.Sum("nvmemptls_namespace_size_bytes", $"subsystem={Nqn}", "nsid=3"), Is.EqualTo(8 << 20));
            Assert.That(scrape.Sum("nvmemptls_namespace_size_bytes", $"subsystem={Nqn}", "nsid=2"), Is.Zero, "series of the removed namespace dropped");
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
