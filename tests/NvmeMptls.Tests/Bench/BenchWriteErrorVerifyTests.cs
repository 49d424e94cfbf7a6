using NvmeMptls.Initiator;
using NvmeMptls.Initiator.LoadGen;
using NvmeMptls.TestKit;

namespace NvmeMptls.Tests.Bench;

/// <summary>
/// A write that reports an error may still have landed (the target executed it and the connection dropped before
/// the completion came back). With continue_on_error the verifier must then accept the block holding either its
/// old or its new contents, not report the new ones as a stale generation (found by the soak review, issue 12).
/// </summary>
public sealed class BenchWriteErrorVerifyTests
{
    [Test]
    public async Task WriteThatFailsAfterLanding_ContinueOnError_NoFalseVerifyError()
    {
        var device = new LandsThenFailsDevice(new MemoryNamespaceDevice(1L << 20), failEvery: 25);
        var report = await BenchRunner.RunAsync(
            BenchJobParser.Parse(["--name=landed", "--rw=randrw", "--bs=4k", "--size=64k", "--iodepth=4", "--verify=crc32c",
                "--continue_on_error=all", "--time_based", "--runtime=1"]),
            (_, _) => ValueTask.FromResult<INamespaceDevice>(device), TextWriter.Null, new BenchRunOptions(), CancellationToken.None);
        var job = report.Jobs[0];
        Assert.Multiple(() =>
        {
            Assert.That(device.Failed, Is.GreaterThan(5), "writes that landed and then reported an error");
            Assert.That(job.Write.Errors, Is.EqualTo(device.Failed), "each one counted as a write error");
            Assert.That(job.VerifyErrors, Is.Zero, "a block a failed write may have changed is not a data mismatch: " + string.Join("; ", job.Failures));
            Assert.That(job.VerifiedBlocks, Is.GreaterThan(100), "blocks were still verified");
        });
    }

    /// <summary>Every <c>failEvery</c>-th write is carried out, then reported as failed.</summary>
    private sealed class LandsThenFailsDevice(INamespaceDevice inner, int failEvery) : INamespaceDevice
    {
        private int _writes;
        private int _failed;

        public int Failed => Volatile.Read(ref _failed);
        public uint Nsid => inner.Nsid;
        public int LbaSize => inner.LbaSize;
        public ulong BlockCount => inner.BlockCount;
        public int MaxTransferBytes => inner.MaxTransferBytes;

        public ValueTask ReadAsync(ulong lba, Memory<byte> buffer, CancellationToken cancellationToken = default) =>
            inner.ReadAsync(lba, buffer, cancellationToken);

        public async ValueTask WriteAsync(ulong lba, ReadOnlyMemory<byte> data, bool forceUnitAccess = false, CancellationToken cancellationToken = default)
        {
            await inner.WriteAsync(lba, data, forceUnitAccess, cancellationToken);
            if (Interlocked.Increment(ref _writes) % failEvery == 0)
            {
                Interlocked.Increment(ref _failed);
                throw new IOException("connection lost after the write was carried out");
            }
        }

        public ValueTask FlushAsync(CancellationToken cancellationToken = default) => inner.FlushAsync(cancellationToken);

        public ValueTask WriteZeroesAsync(ulong lba, uint blocks, bool deallocate = false, CancellationToken cancellationToken = default) =>
            inner.WriteZeroesAsync(lba, blocks, deallocate, cancellationToken);

        public ValueTask DeallocateAsync(ulong lba, uint blocks, CancellationToken cancellationToken = default) =>
            inner.DeallocateAsync(lba, blocks, cancellationToken);
    }
}
