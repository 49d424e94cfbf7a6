using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Net;
using NvmeMptls.IntegrationTests.TestKit;
using NvmeMptls.TestKit;

namespace NvmeMptls.IntegrationTests.Service;

/// <summary>SIGTERM while hosts write: exit 0, and every write a host saw acknowledged is in the file afterwards.</summary>
[TestFixture]
[NonParallelizable]
public sealed class ShutdownTests
{
    private const string Nqn = "nqn.2026-01.io.nvmemptls:shutdown-test";
    private const int Block = 4096;
    private const int Writers = 4;

    [Test]
    public async Task Sigterm_DuringWrites_ExitsZeroAndEveryAcknowledgedWriteIsInTheFile()
    {
        var dir = Directory.CreateTempSubdirectory("nvmemptls-sigterm-").FullName;
        try
        {
            var file = Path.Combine(dir, "ns1.img");
            var port = TargetProcess.FreePort();
            var config = Path.Combine(dir, "target.json");
            await File.WriteAllTextAsync(config, InProcessTarget.Config(port, TargetProcess.FreePort(), Nqn,
                $$"""{ "Nsid": 1, "Backing": "file", "Path": "{{file}}", "Size": "64MiB" }"""));
            await using var target = TargetProcess.Start(["--config", config]);
            await target.WaitReadyAsync(TimeSpan.FromSeconds(30));

            var endPoint = new IPEndPoint(IPAddress.Loopback, port);
            await using var admin = await RawNvmeHost.OpenAsync(endPoint, Nqn, 0);
            var acknowledged = new ConcurrentDictionary<ulong, int>();
            var failures = new ConcurrentBag<string>();
            var enoughAcked = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            var writers = new List<Task>();
            for (var w = 0; w < Writers; w++)
            {
                var writer = w;
                writers.Add(Task.Run(async () =>
                {
                    await using var io = await RawNvmeHost.OpenAsync(endPoint, Nqn, (ushort)(writer + 1), admin.ControllerId);
                    var data = new byte[Block];

                    // Each writer owns its own LBAs and stamps each block with (lba, sequence), so the file proves which write landed.
                    for (var seq = 1; ; seq++)
                    {
                        var lba = (ulong)(((seq % 1024) * Writers) + writer) * (Block / 512);
                        BinaryPrimitives.WriteUInt64LittleEndian(data, lba);
                        BinaryPrimitives.WriteInt32LittleEndian(data.AsSpan(8), seq);
                        data.AsSpan(12).Fill((byte)seq);
                        HostCompletion done;
                        try
                        {
                            done = await io.WriteAsync(1, lba, data);
                        }
                        catch (IOException)
                        {
                            return; // the connection closed: retryable, the host would reconnect
                        }

                        if (!done.Status.IsSuccess)
                        {
                            if (done.Status.DoNotRetry)
                            {
                                failures.Add($"LBA {lba}: non-retryable {done.Status}");
                            }

                            continue;
                        }

                        acknowledged[lba] = seq;
                        if (acknowledged.Count >= 200)
                        {
                            enoughAcked.TrySetResult();
                        }
                    }
                }));
            }

            await enoughAcked.Task.WaitAsync(TimeSpan.FromSeconds(60));
            target.Terminate();
            var exit = await target.WaitForExitAsync(TimeSpan.FromSeconds(60));
            await Task.WhenAll(writers).WaitAsync(TimeSpan.FromSeconds(30));

            Assert.That(exit, Is.Zero, $"exit code\nstdout:\n{target.StandardOutput}\nstderr:\n{target.StandardError}");
            Assert.That(failures, Is.Empty);
            Assert.That(target.StandardOutput, Does.Contain("Stopped: namespaces flushed"));
            await using var image = File.OpenRead(file);
            var block = new byte[Block];
            foreach (var (lba, seq) in acknowledged)
            {
                image.Position = (long)lba * 512;
                await image.ReadExactlyAsync(block);
                var storedSeq = BinaryPrimitives.ReadInt32LittleEndian(block.AsSpan(8));

                // A later write to the same LBA may have landed without its acknowledgement reaching us; an earlier one may not.
                Assert.That(BinaryPrimitives.ReadUInt64LittleEndian(block), Is.EqualTo(lba), $"LBA {lba} lost its data");
                Assert.That(storedSeq, Is.GreaterThanOrEqualTo(seq), $"LBA {lba}: acknowledged write {seq} missing, file holds {storedSeq}");
                Assert.That(block[Block - 1], Is.EqualTo((byte)storedSeq), $"LBA {lba}: torn block");
            }
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
