using NvmeMptls.Target.Namespaces;

namespace NvmeMptls.Tests.Target.Namespaces;

/// <summary>
/// Random concurrent I/O against any <see cref="IBlockDevice"/>, checked against an in-memory model. Workers
/// own interleaved 4 KiB units (unit % workers == worker), so their ranges are disjoint as the device contract
/// requires, yet share chunks, pages and file-system blocks with each other.
/// </summary>
internal static class BlockDeviceWorkload
{
    private const int Unit = 4096;

    public static async Task RunAndVerifyAsync(IBlockDevice device, long span, int workers, int operationsPerWorker, int seed)
    {
        int lba = device.LogicalBlockSize;
        var model = new byte[span];
        var failures = new List<string>();
        var tasks = new Task[workers];
        for (int w = 0; w < workers; w++)
        {
            int worker = w;
            tasks[w] = Task.Run(async () =>
            {
                var random = new Random(seed * 31 + worker);
                var buffer = new byte[Unit];
                var check = new byte[Unit];
                long units = span / Unit;
                for (int op = 0; op < operationsPerWorker; op++)
                {
                    long unit = random.NextInt64(units / workers) * workers + worker;
                    int blocks = Unit / lba;
                    int first = random.Next(blocks);
                    int count = random.Next(1, blocks - first + 1);
                    long offset = unit * Unit + (long)first * lba;
                    int length = count * lba;
                    switch (random.Next(10))
                    {
                        case < 6:
                            random.NextBytes(buffer.AsSpan(0, length));
                            await device.WriteAsync(offset, buffer.AsMemory(0, length), forceUnitAccess: op % 17 == 0);
                            buffer.AsSpan(0, length).CopyTo(model.AsSpan((int)offset, length));
                            break;
                        case < 9:
                            await device.ReadAsync(offset, check.AsMemory(0, length));
                            if (!check.AsSpan(0, length).SequenceEqual(model.AsSpan((int)offset, length)))
                            {
                                lock (failures)
                                {
                                    failures.Add($"worker {worker}: read at {offset}+{length} differs from what was written");
                                }
                            }

                            break;
                        default:
                            if (random.Next(2) == 0)
                            {
                                await device.DeallocateAsync(offset, length);
                            }
                            else
                            {
                                await device.WriteZeroesAsync(offset, length, deallocate: random.Next(2) == 0);
                            }

                            model.AsSpan((int)offset, length).Clear();
                            break;
                    }
                }
            });
        }

        await Task.WhenAll(tasks);
        await device.FlushAsync();
        Assert.That(failures, Is.Empty);

        var whole = new byte[span];
        await device.ReadAsync(0, whole);
        Assert.That(FirstDifference(whole, model), Is.EqualTo(-1), "first byte that differs from the model after all workers finished");
    }

    public static long FirstDifference(ReadOnlySpan<byte> actual, ReadOnlySpan<byte> expected)
    {
        for (int i = 0; i < actual.Length; i++)
        {
            if (actual[i] != expected[i])
            {
                return i;
            }
        }

        return -1;
    }

    public static byte[] Pattern(int length, int seed)
    {
        var data = new byte[length];
        new Random(seed).NextBytes(data);
        return data;
    }
}
