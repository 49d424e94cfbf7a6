using System.IO.Pipelines;
using BenchmarkDotNet.Attributes;
using NvmeMptls.Transport.Connections;
using NvmeMptls.Transport.Nvme;
using NvmeMptls.Transport.Pdu;

namespace NvmeMptls.Bench.Micro;

/// <summary>
/// One read's PDUs through a pipe on the connections' block pool: the controller writes C2HData (+ data digest when
/// asked) and the CapsuleResp, the host reads the header, streams the data into its buffer and reads the response.
/// Copies per byte: one into the pipe, one out of it (the same as over a socket, without the kernel).
/// </summary>
[MemoryDiagnoser]
public class PduBenchmarks
{
    private Pipe _pipe = null!;
    private PduWriter _writer = null!;
    private PduReader _reader = null!;
    private byte[] _data = null!;
    private byte[] _destination = null!;

    [Params(4096, 128 * 1024)]
    public int Size { get; set; }

    [Params(false, true)]
    public bool DataDigest { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _pipe = new Pipe(new PipeOptions(pool: PipeBufferPool.Connections, minimumSegmentSize: 64 * 1024, pauseWriterThreshold: 0,
            useSynchronizationContext: false));
        _writer = new PduWriter(_pipe.Writer, new PduSettings { DataDigest = DataDigest });
        _reader = new PduReader(_pipe.Reader, PduRole.Host, new PduSettings { DataDigest = DataDigest });
        _data = new byte[Size];
        Random.Shared.NextBytes(_data);
        _destination = new byte[Size];
    }

    [Benchmark]
    public async Task<bool> C2HDataAndResponse_WriteThenRead()
    {
        _writer.WriteC2HData(new C2HDataPdu(7, 0, (uint)Size), _data, last: true, success: false);
        _writer.WriteCapsuleResp(new NvmeCompletion { CommandId = 7 });
        await _writer.FlushAsync().ConfigureAwait(false);
        await _reader.ReadHeaderAsync().ConfigureAwait(false);
        var ok = await _reader.ReadDataAsync(_destination).ConfigureAwait(false);
        await _reader.ReadHeaderAsync().ConfigureAwait(false);
        return ok;
    }
}
