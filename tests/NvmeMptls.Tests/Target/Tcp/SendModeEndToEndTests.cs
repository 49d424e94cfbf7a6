using System.Buffers.Binary;
using NvmeMptls.Initiator;
using NvmeMptls.Target.Namespaces;
using NvmeMptls.Target.Subsystems;
using NvmeMptls.Target.Tcp;
using NvmeMptls.TestKit;

namespace NvmeMptls.Tests.Target.Tcp;

/// <summary>
/// Both send modes over loopback TCP, on a device whose commands finish at random: at once on the receiving thread,
/// after a hop to the thread pool, or after a short timer. In burst mode answers finished off the receive loop race
/// its burst-end drains (the send task and the receive loop take turns at the writer); every command must get its
/// answer, at depth 1 (the receive loop waits for the peer while the device finishes) and at depth 32, with and
/// without digests, with the client's completions on the thread pool or inline on its receive thread (where its
/// resubmissions race its own burst-end drains), and every block read back must be the last one written there.
/// </summary>
public sealed class SendModeEndToEndTests
{
    private const int Lba = 512;
    private const long Size = 8L << 20; // 32 workers × 64 slots × 8 blocks

    [Test]
    public async Task JitteryDevice_EveryCommandAnswered_EveryBlockReadBack(
        [Values(QueueSendMode.Burst, QueueSendMode.Loop)] QueueSendMode mode, [Values(1, 32)] int depth, [Values(false, true)] bool digests,
        [Values] NvmeCompletionMode completions)
    {
        await using var target = LoopbackTarget.Start(Size, limits: new TargetLimits { SendMode = mode }, backing: bytes => new JitterDevice(bytes));
        await using var controller = await NvmeController.ConnectAsync(target.ClientOptions with
        {
            IoQueueCount = 1,
            QueueSize = 64,
            CompletionMode = completions,
            HeaderDigest = digests,
            DataDigest = digests,
        });
        var ns = await controller.OpenNamespaceAsync(1);
        const int Slots = 64; // each worker owns its own 8-block slots, so what it reads is what it wrote last
        var generations = new uint[depth * Slots];
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(120));

        async Task WorkerAsync(int worker)
        {
            var random = new Random(worker);
            var buffer = new byte[8 * Lba];
            for (var i = 0; i < 3000 / depth + 20; i++)
            {
                var slot = worker * Slots + random.Next(Slots);
                var lba = (ulong)slot * 8;
                if (random.Next(2) == 0)
                {
                    var generation = ++generations[slot];
                    Stamp(buffer, lba, generation);
                    await ns.WriteAsync(lba, buffer, cancellationToken: stop.Token);
                }
                else
                {
                    await ns.ReadAsync(lba, buffer, stop.Token);
                    for (var b = 0; b < 8; b++)
                    {
                        var block = buffer.AsSpan(b * Lba, Lba);
                        var expected = generations[slot] == 0 ? 0UL : lba + (ulong)b;
                        Assert.That(BinaryPrimitives.ReadUInt64LittleEndian(block), Is.EqualTo(expected), $"slot {slot} block {b}: LBA stamp");
                        Assert.That(BinaryPrimitives.ReadUInt32LittleEndian(block[8..]), Is.EqualTo(generations[slot]), $"slot {slot} block {b}: generation");
                    }
                }
            }
        }

        await Task.WhenAll(Enumerable.Range(0, depth).Select(w => Task.Run(() => WorkerAsync(w)))).WaitAsync(TimeSpan.FromSeconds(150));
        Assert.That(stop.IsCancellationRequested, Is.False, "every command was answered in time");
    }

    private static void Stamp(Span<byte> buffer, ulong lba, uint generation)
    {
        for (var b = 0; b < buffer.Length / Lba; b++)
        {
            var block = buffer.Slice(b * Lba, Lba);
            BinaryPrimitives.WriteUInt64LittleEndian(block, lba + (ulong)b);
            BinaryPrimitives.WriteUInt32LittleEndian(block[8..], generation);
        }
    }

    /// <summary>Memory whose reads and writes finish at once, after a thread-pool hop, or after a 1 ms timer, at random.</summary>
    private sealed class JitterDevice(long size) : IBlockDevice
    {
        private readonly MemoryBlockDevice _inner = new(size, Lba);
        private int _calls;

        public string Kind => "jitter-memory";

        public bool CompletesInline => true;

        public string Description => "memory with random completion threads";

        public long SizeBytes => _inner.SizeBytes;

        public int LogicalBlockSize => Lba;

        public async ValueTask ReadAsync(long offset, Memory<byte> destination, CancellationToken cancellationToken = default)
        {
            await JitterAsync().ConfigureAwait(false);
            await _inner.ReadAsync(offset, destination, cancellationToken).ConfigureAwait(false);
        }

        public async ValueTask WriteAsync(long offset, ReadOnlyMemory<byte> source, bool forceUnitAccess, CancellationToken cancellationToken = default)
        {
            await JitterAsync().ConfigureAwait(false);
            await _inner.WriteAsync(offset, source, forceUnitAccess, cancellationToken).ConfigureAwait(false);
        }

        private async ValueTask JitterAsync()
        {
            switch ((uint)(Interlocked.Increment(ref _calls) * 2654435761u) >> 30)
            {
                case 0:
                case 1:
                    return;
                case 2:
                    await Task.Yield();
                    return;
                default:
                    await Task.Delay(1).ConfigureAwait(false);
                    return;
            }
        }

        public ValueTask FlushAsync(CancellationToken cancellationToken = default) => _inner.FlushAsync(cancellationToken);

        public ValueTask WriteZeroesAsync(long offset, long length, bool deallocate, CancellationToken cancellationToken = default) =>
            _inner.WriteZeroesAsync(offset, length, deallocate, cancellationToken);

        public ValueTask DeallocateAsync(long offset, long length, CancellationToken cancellationToken = default) => _inner.DeallocateAsync(offset, length, cancellationToken);

        public ValueTask DisposeAsync() => _inner.DisposeAsync();
    }
}
