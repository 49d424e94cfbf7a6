using System.Buffers;
using System.IO.Pipelines;
using NvmeMptls.Transport.Nvme;
using NvmeMptls.Transport.Pdu;

namespace NvmeMptls.Tests.Pdu;

/// <summary>
/// <see cref="PduWriter"/> with <c>batchAdvance</c>: the same bytes as the writer that advances per piece, but the pipe
/// is advanced once per memory it handed out (or at the flush), not once per header, data chunk and digest.
/// </summary>
public sealed class PduWriterBatchTests
{
    /// <summary>A pipe writer that counts Advance calls.</summary>
    private sealed class CountingWriter(PipeWriter inner) : PipeWriter
    {
        public int Advances { get; private set; }

        public override void Advance(int bytes)
        {
            Advances++;
            inner.Advance(bytes);
        }

        public override Memory<byte> GetMemory(int sizeHint = 0) => inner.GetMemory(sizeHint);

        public override Span<byte> GetSpan(int sizeHint = 0) => inner.GetSpan(sizeHint);

        public override void CancelPendingFlush() => inner.CancelPendingFlush();

        public override void Complete(Exception? exception = null) => inner.Complete(exception);

        public override ValueTask<FlushResult> FlushAsync(CancellationToken cancellationToken = default) => inner.FlushAsync(cancellationToken);
    }

    private static async Task<(byte[] Bytes, int Advances)> WriteAsync(bool batch, bool digests, byte hpda)
    {
        var pipe = new Pipe(new PipeOptions(pauseWriterThreshold: 0, minimumSegmentSize: 64 * 1024));
        var counting = new CountingWriter(pipe.Writer);
        var writer = new PduWriter(counting, new PduSettings { HeaderDigest = digests, DataDigest = digests, SendAlignment = hpda }, batchAdvance: batch);
        var data = new byte[4096];
        new Random(5).NextBytes(data);
        for (var i = 0; i < 8; i++)
        {
            writer.WriteC2HData(new C2HDataPdu((ushort)i, 0, 4096), data, last: true, success: false);
            writer.WriteCapsuleResp(new NvmeCompletion { CommandId = (ushort)i, SqHead = (ushort)i });
            writer.WriteR2T(new R2TPdu((ushort)(i + 100), (ushort)i, 0, 8192));
        }

        await writer.FlushAsync();
        await pipe.Writer.CompleteAsync();
        var read = await pipe.Reader.ReadAsync();
        while (!read.IsCompleted)
        {
            pipe.Reader.AdvanceTo(read.Buffer.Start, read.Buffer.End);
            read = await pipe.Reader.ReadAsync();
        }

        return (read.Buffer.ToArray(), counting.Advances);
    }

    [Test]
    public async Task Batched_SameBytes_OneAdvancePerMemory([Values(false, true)] bool digests, [Values(0, 3)] int hpda)
    {
        var (perPiece, perPieceAdvances) = await WriteAsync(batch: false, digests, (byte)hpda);
        var (batched, batchedAdvances) = await WriteAsync(batch: true, digests, (byte)hpda);

        Assert.That(batched, Is.EqualTo(perPiece), "the bytes do not depend on when the pipe is advanced");
        // 8 × (C2HData: header, padding, data, digest; CapsuleResp; R2T) against the pieces of memory 33 KiB takes.
        Assert.That(perPieceAdvances, Is.GreaterThanOrEqualTo(8 * 4));
        Assert.That(batchedAdvances, Is.LessThanOrEqualTo(2), "one 64 KiB segment holds them all: advanced at the flush");
        TestContext.Out.WriteLine($"{perPiece.Length} bytes: {perPieceAdvances} advances per piece, {batchedAdvances} batched");
    }

    [Test]
    public async Task Batched_NothingReachesThePipeBeforeTheFlush_ThenEverything()
    {
        var pipe = new Pipe(new PipeOptions(pauseWriterThreshold: 0));
        var writer = new PduWriter(pipe.Writer, new PduSettings(), batchAdvance: true);
        writer.WriteCapsuleResp(new NvmeCompletion { CommandId = 7 });
        Assert.That(writer.UnflushedBytes, Is.EqualTo(24), "counted as written");
        Assert.That(pipe.Writer.UnflushedBytes, Is.Zero, "the pipe was not advanced yet");

        await writer.FlushAsync();
        var read = await pipe.Reader.ReadAsync();
        Assert.That(read.Buffer.Length, Is.EqualTo(24));
        Assert.That(read.Buffer.FirstSpan[0], Is.EqualTo((byte)PduType.CapsuleResp));
    }
}
