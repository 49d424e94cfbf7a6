using System.Net;
using BenchmarkDotNet.Attributes;
using NvmeMptls.Transport.Connections;
using NvmeMptls.Transport.Multipath;
using NvmeMptls.Transport.Nvme;
using NvmeMptls.Transport.Pdu;
using NvmeMptls.Transport.Sockets;

namespace NvmeMptls.Bench.Micro;

/// <summary>
/// A burst of reads' PDUs (C2HData + CapsuleResp, 16 per flush) over a loopback TCP pair of <see cref="SocketConnection"/>s,
/// until the peer has read every byte: the data copied into the output pipe (<see cref="PduWriter.WriteC2HData"/>, the
/// baseline) against the data spliced into the socket's gathered send (<see cref="PduWriter.TryWriteC2HDataSpliced"/>).
/// Run: <c>bench micro --filter '*GatheredSend*'</c>.
/// </summary>
[MemoryDiagnoser]
public class GatheredSendBenchmarks : IOutputSpliceCompletion
{
    private const int Burst = 16;
    private SocketConnection _client = null!;
    private SocketConnection _server = null!;
    private PduWriter _writer = null!;
    private byte[][] _data = null!;
    private long _completed;

    [Params(4096, 128 * 1024)]
    public int Size { get; set; }

    [Params(false, true)]
    public bool DataDigest { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var listener = StreamListener.Bind(new IPEndPoint(IPAddress.Loopback, 0), MultipathPolicy.Disabled, backlog: 1);
        var accept = listener.AcceptAsync().AsTask();
        _client = StreamConnector.ConnectAsync(listener.LocalEndPoint, MultipathPolicy.Disabled).GetAwaiter().GetResult();
        _server = accept.GetAwaiter().GetResult();
        listener.DisposeAsync().AsTask().GetAwaiter().GetResult();
        _writer = new PduWriter(_client.Output, new PduSettings { DataDigest = DataDigest }, _client) { MinSpliceLength = 1 };
        _data = [.. Enumerable.Range(0, Burst).Select(_ => new byte[Size])];
        foreach (var d in _data)
        {
            Random.Shared.NextBytes(d);
        }
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _client.DisposeAsync().AsTask().GetAwaiter().GetResult();
        _server.DisposeAsync().AsTask().GetAwaiter().GetResult();
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = Burst)]
    public async Task CopiedIntoPipe()
    {
        for (var i = 0; i < Burst; i++)
        {
            _writer.WriteC2HData(new C2HDataPdu((ushort)i, 0, (uint)Size), _data[i], last: true, success: false);
            _writer.WriteCapsuleResp(new NvmeCompletion { CommandId = (ushort)i });
        }

        await FlushAndDrainAsync().ConfigureAwait(false);
    }

    [Benchmark(OperationsPerInvoke = Burst)]
    public async Task SplicedGatheredSend()
    {
        for (var i = 0; i < Burst; i++)
        {
            _writer.TryWriteC2HDataSpliced(new C2HDataPdu((ushort)i, 0, (uint)Size), _data[i], last: true, success: false, this, null);
            _writer.WriteCapsuleResp(new NvmeCompletion { CommandId = (ushort)i });
        }

        await FlushAndDrainAsync().ConfigureAwait(false);
    }

    private async Task FlushAndDrainAsync()
    {
        var expected = _writer.UnflushedBytes;
        await _writer.FlushAsync().ConfigureAwait(false);
        while (expected > 0)
        {
            var result = await _server.Input.ReadAsync().ConfigureAwait(false);
            expected -= result.Buffer.Length;
            _server.Input.AdvanceTo(result.Buffer.End);
        }
    }

    public void OnSpliceCompleted(object? token, bool sent) => Interlocked.Increment(ref _completed);
}
