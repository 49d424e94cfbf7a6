using NvmeMptls.Initiator;
using NvmeMptls.IntegrationTests.TestKit;

namespace NvmeMptls.IntegrationTests.Loopback;

/// <summary>A file namespace in the target process keeps flushed data across SIGTERM and a fresh start on the same file.</summary>
[NonParallelizable]
public sealed class FileNamespaceRestartTests
{
    private const string Nqn = "nqn.2026-01.io.nvmemptls:default";

    [Test]
    public async Task WriteFlushSigtermRestart_ReadsBackIdenticalData()
    {
        var dir = Directory.CreateTempSubdirectory("filens-");
        try
        {
            var image = Path.Combine(dir.FullName, "ns1.img");
            var port = TargetProcess.FreePort();
            string[] args = ["--listen", $"127.0.0.1:{port}", "--discovery", "none", "--metrics", "off", "--file-ns", $"{image}:64MiB"];
            var random = new Random(11);
            var pieces = Enumerable.Range(0, 24).Select(i =>
            {
                var data = new byte[(1 + random.Next(0, 64)) * 4096];
                random.NextBytes(data);
                return (Offset: (long)i * (2L << 20) + random.Next(0, 64) * 4096L, Data: data);
            }).ToArray();

            await using (var target = TargetProcess.Start(args))
            {
                await target.WaitReadyAsync(TimeSpan.FromSeconds(60));
                await using (var controller = await NvmeController.ConnectAsync(NvmeLoopback.Options(port, ioQueues: 2, nqn: Nqn)))
                {
                    var ns = await controller.OpenNamespaceAsync(1);
                    Assert.That(ns.BlockCount * (ulong)ns.LbaSize, Is.EqualTo(64UL << 20));
                    await LoopbackIoTests.RunConcurrent(pieces.Length, 8, i =>
                        ns.WriteAsync((ulong)(pieces[i].Offset / ns.LbaSize), pieces[i].Data));
                    await ns.FlushAsync();
                }

                target.Terminate();
                Assert.That(await target.WaitForExitAsync(TimeSpan.FromSeconds(30)), Is.Zero, "clean exit on SIGTERM:\n" + target.StandardOutput + target.StandardError);
            }

            await using (var file = File.OpenRead(image))
            {
                foreach (var (offset, data) in pieces)
                {
                    var onDisk = new byte[data.Length];
                    file.Position = offset;
                    await file.ReadExactlyAsync(onDisk);
                    Assert.That(onDisk, Is.EqualTo(data), $"file content at {offset} while the target is down");
                }
            }

            await using (var target = TargetProcess.Start(args))
            {
                await target.WaitReadyAsync(TimeSpan.FromSeconds(60));
                await using var controller = await NvmeController.ConnectAsync(NvmeLoopback.Options(port, ioQueues: 2, nqn: Nqn));
                var ns = await controller.OpenNamespaceAsync(1);
                foreach (var (offset, data) in pieces)
                {
                    var back = new byte[data.Length];
                    await ns.ReadAsync((ulong)(offset / ns.LbaSize), back);
                    Assert.That(back, Is.EqualTo(data), $"read back at {offset} after the restart");
                }
            }
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }
}
