using System.Collections.Concurrent;
using System.IO.Pipelines;
using NvmeMptls.Tests.Conformance;
using NvmeMptls.Transport.Connections;
using NvmeMptls.Transport.Multipath;
using NvmeMptls.Transport.Nvme;
using NvmeMptls.Transport.Pdu;
using NvmeMptls.Transport.Sockets;

namespace NvmeMptls.Tests.Connections;

/// <summary>
/// Gathered send of C2HData (<see cref="PduWriter.TryWriteC2HDataSpliced"/> over <see cref="SocketConnection.SpliceOutput"/>):
/// the bytes the peer receives are exactly those the copying path (<see cref="PduWriter.WriteC2HData"/>) puts into a
/// pipe, for mixed PDU sequences with and without digests and padding, flushed in random batches; every spliced buffer
/// is completed exactly once, and only after the kernel took it (the test scribbles over each buffer in its completion,
/// so a late send would show as different bytes on the wire).
/// </summary>
public sealed class GatheredSendTests
{
    [Test]
    public async Task MixedPdus_SplicedOverTcp_WireBytesEqualTheCopyingWriters(
        [Values(false, true)] bool headerDigest, [Values(false, true)] bool dataDigest, [Values(0, 3)] int hpda, [Values(false, true)] bool batchAdvance)
    {
        await RunAsync(MultipathPolicy.Disabled, headerDigest, dataDigest, (byte)hpda, seed: 16 + hpda + (headerDigest ? 2 : 0) + (dataDigest ? 4 : 0), batchAdvance);
    }

    [Test]
    public async Task MixedPdus_SplicedOverMptcp_WireBytesEqualTheCopyingWriters([Values(false, true)] bool digests)
    {
        try
        {
            await RunAsync(MultipathPolicy.Required, digests, digests, 0, seed: 1300 + (digests ? 1 : 0), batchAdvance: true);
        }
        catch (MultipathUnavailableException ex)
        {
            Assert.Ignore($"MPTCP unavailable: {ex.Message}");
        }
    }

    [Test]
    public async Task SplicePendingWhenTheConnectionAborts_CompletedOnceAsNotSent()
    {
        var (client, server) = await LoopbackPairs.CreateAsync(MultipathPolicy.Disabled);
        await using var s = server;
        var recorder = new Recorder();
        var data = new byte[8192];
        client.Output.GetSpan(8)[..8].Fill(1);
        client.Output.Advance(8);
        client.SpliceOutput(data, recorder, data); // never flushed
        client.Abort(new IOException("test abort"));
        await client.DisposeAsync();
        Assert.That(recorder.Completed.TryGetValue(data, out var sent), Is.True, "the splice was completed");
        Assert.That(sent, Is.False, "completed as not sent");

        var late = new byte[4096];
        client.SpliceOutput(late, recorder, late);
        Assert.That(recorder.Completed.TryGetValue(late, out var lateSent) && !lateSent, Is.True, "a splice after the end is completed at once, not sent");
        Assert.That(recorder.Duplicates, Is.Zero);
    }

    [Test]
    public void DropSent_CutsWholeAndPartialSegments()
    {
        var a = new byte[10];
        var b = new byte[20];
        var list = new List<ArraySegment<byte>> { new(a), new(b, 5, 10), new(a, 0, 3) };
        SocketConnection.DropSent(list, 12);
        Assert.That(list, Has.Count.EqualTo(2));
        Assert.That(list[0].Array, Is.SameAs(b));
        Assert.That((list[0].Offset, list[0].Count), Is.EqualTo((7, 8)));
        SocketConnection.DropSent(list, 11);
        Assert.That(list, Is.Empty);
    }

    /// <summary>Random sequence of PDUs written twice: spliced into a socket, copied into a pipe; compares the bytes.</summary>
    private static async Task RunAsync(MultipathPolicy policy, bool headerDigest, bool dataDigest, byte hpda, int seed, bool batchAdvance)
    {
        var (client, server) = await LoopbackPairs.CreateAsync(policy);
        await using var c = client;
        await using var s = server;
        Assert.That(client.CanSpliceOutput, Is.True);
        PduSettings Settings() => new() { HeaderDigest = headerDigest, DataDigest = dataDigest, SendAlignment = hpda };
        var spliced = new PduWriter(client.Output, Settings(), client, batchAdvance) { MinSpliceLength = 1 };
        var referencePipe = new Pipe(new PipeOptions(pauseWriterThreshold: 0));
        var reference = new PduWriter(referencePipe.Writer, Settings());
        Assert.That(spliced.CanSplice, Is.True);

        var recorder = new Recorder();
        var random = new Random(seed);
        long expectedBytes = 0;
        var splices = 0;
        var receive = ReadAllAsync(server.Input);
        for (var batch = 0; batch < 120; batch++)
        {
            var items = random.Next(1, 9);
            for (var i = 0; i < items; i++)
            {
                var cid = (ushort)random.Next(ushort.MaxValue);
                switch (random.Next(4))
                {
                    case 0:
                        var cqe = new NvmeCompletion { CommandId = cid, SqHead = (ushort)i, Dw0 = (uint)random.Next() };
                        spliced.WriteCapsuleResp(cqe);
                        reference.WriteCapsuleResp(cqe);
                        break;
                    case 1:
                        var r2t = new R2TPdu(cid, (ushort)i, 0, (uint)random.Next(1, 1 << 20));
                        spliced.WriteR2T(r2t);
                        reference.WriteR2T(r2t);
                        break;
                    default:
                        // 1 B .. 256 KiB, often a page multiple; the last of a batch sometimes with SUCCESS (no CQE after).
                        var length = random.Next(3) == 0 ? random.Next(1, 5000) : 4096 * random.Next(1, 65);
                        var data = new byte[length + 64];
                        random.NextBytes(data);
                        var segment = new ArraySegment<byte>(data, 32, length);
                        var success = i == items - 1 && random.Next(2) == 0;
                        var pdu = new C2HDataPdu(cid, 0, (uint)length);
                        reference.WriteC2HData(pdu, segment, last: true, success);
                        Assert.That(spliced.TryWriteC2HDataSpliced(pdu, segment, last: true, success, recorder, data), Is.True);
                        splices++;
                        break;
                }
            }

            expectedBytes += spliced.UnflushedBytes;
            await spliced.FlushAsync();
        }

        await reference.FlushAsync();
        await referencePipe.Writer.CompleteAsync();
        var expected = await ReadAllAsync(referencePipe.Reader, long.MaxValue);
        Assert.That(expected.Length, Is.EqualTo(expectedBytes), "UnflushedBytes counts the spliced data");
        await client.Output.CompleteAsync(); // FIN after the last byte
        var actual = await receive.WaitAsync(TimeSpan.FromSeconds(60));
        Assert.That(actual.Length, Is.EqualTo(expected.Length), "byte count on the wire");
        var firstDifference = actual.AsSpan().CommonPrefixLength(expected);
        Assert.That(firstDifference, Is.EqualTo(expected.Length), "first byte that differs");
        Assert.That(recorder.Completed, Has.Count.EqualTo(splices), "every splice completed");
        Assert.That(recorder.Completed.Values, Is.All.True, "every splice sent");
        Assert.That(recorder.Duplicates, Is.Zero, "no splice completed twice");
        Assert.That(client.PendingSplices, Is.Zero);
    }

    private static async Task<byte[]> ReadAllAsync(PipeReader reader, long limit = long.MaxValue)
    {
        using var all = new MemoryStream();
        while (true)
        {
            var result = await reader.ReadAsync();
            foreach (var segment in result.Buffer)
            {
                all.Write(segment.Span);
            }

            reader.AdvanceTo(result.Buffer.End);
            if (result.IsCompleted || all.Length >= limit)
            {
                break;
            }
        }

        await reader.CompleteAsync();
        return all.ToArray();
    }

    /// <summary>Records each completion and then scribbles over the buffer, as a pool reusing it would.</summary>
    private sealed class Recorder : IOutputSpliceCompletion
    {
        private int _duplicates;

        public ConcurrentDictionary<byte[], bool> Completed { get; } = new(ReferenceEqualityComparer.Instance);

        public int Duplicates => _duplicates;

        public void OnSpliceCompleted(object? token, bool sent)
        {
            var buffer = (byte[])token!;
            if (!Completed.TryAdd(buffer, sent))
            {
                Interlocked.Increment(ref _duplicates);
            }

            buffer.AsSpan().Fill(0xEE);
        }
    }
}
