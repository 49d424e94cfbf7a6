using BenchmarkDotNet.Attributes;
using NvmeMptls.Transport.Pdu;

namespace NvmeMptls.Bench.Micro;

/// <summary>CRC32C (the NVMe/TCP digests) over a data block: the hardware path we use and the portable table fallback.</summary>
[MemoryDiagnoser]
public class Crc32CBenchmarks
{
    private byte[] _data = null!;

    [Params(4096, 128 * 1024)]
    public int Size { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _data = new byte[Size];
        Random.Shared.NextBytes(_data);
    }

    [Benchmark(Baseline = true)]
    public uint Compute() => Crc32C.Compute(_data);

    [Benchmark]
    public uint Portable() => ~Crc32C.UpdatePortable(Crc32C.Seed, _data);
}
