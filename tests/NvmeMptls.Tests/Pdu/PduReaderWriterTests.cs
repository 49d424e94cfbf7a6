using System.Buffers;
using System.Buffers.Binary;
using System.IO.Pipelines;
using NvmeMptls.Transport.Nvme;
using NvmeMptls.Transport.Pdu;

namespace NvmeMptls.Tests.Pdu;

public sealed class PduReaderWriterTests
{
    private static (PduWriter Writer, PduReader Reader, Pipe Pipe) Create(PduRole readerRole, bool hd, bool dd, byte senderAlign = 0, byte receiverAlign = 0)
    {
        var pipe = new Pipe(new PipeOptions(pauseWriterThreshold: 0));
        var ws = new PduSettings { HeaderDigest = hd, DataDigest = dd, SendAlignment = senderAlign };
        var rs = new PduSettings { HeaderDigest = hd, DataDigest = dd, ReceiveAlignment = receiverAlign, MaxInCapsuleData = 16384 };
        return (new PduWriter(pipe.Writer, ws), new PduReader(pipe.Reader, readerRole, rs), pipe);
    }

    [TestCase(false, false)]
    [TestCase(true, false)]
    [TestCase(false, true)]
    [TestCase(true, true)]
    public async Task CapsuleCmd_WithInCapsuleData_RoundTrips(bool hd, bool dd)
    {
        var (writer, reader, _) = Create(PduRole.Controller, hd, dd);
        var cmd = new NvmeCommand { Opcode = 1, CommandId = 77, Nsid = 1, SglIdentifier = SglDescriptor.InCapsuleIdentifier, SglLength = 4096, Cdw10 = 5 };
        var data = new byte[4096];
        new Random(1).NextBytes(data);
        writer.WriteCapsuleCmd(cmd, data);
        await writer.FlushAsync();

        Assert.That(await reader.ReadHeaderAsync(), Is.True);
        Assert.That(reader.Common.Type, Is.EqualTo(PduType.CapsuleCmd));
        var read = CapsuleCmdPdu.ReadCommand(reader.Header);
        Assert.That(read.CommandId, Is.EqualTo(77));
        Assert.That(read.Cdw10, Is.EqualTo(5u));
        Assert.That(reader.DataLength, Is.EqualTo(4096));
        var buffer = new byte[4096];
        Assert.That(await reader.ReadDataAsync(buffer), Is.True);
        Assert.That(buffer, Is.EqualTo(data));
    }

    [TestCase((byte)0, 24)]
    [TestCase((byte)7, 32)]
    [TestCase((byte)31, 128)]
    public async Task C2HData_PeerAlignment_PadsPdoAndReaderSkipsPadding(byte hpda, int expectedPdo)
    {
        var (writer, reader, _) = Create(PduRole.Host, hd: false, dd: true, senderAlign: hpda, receiverAlign: hpda);
        var data = new byte[1000];
        new Random(2).NextBytes(data);
        writer.WriteC2HData(new C2HDataPdu(3, 0, 1000), data, last: true, success: true);
        await writer.FlushAsync();

        Assert.That(await reader.ReadHeaderAsync(), Is.True);
        Assert.That(reader.Common.DataOffset, Is.EqualTo(expectedPdo));
        Assert.That(reader.Common.PduLength, Is.EqualTo((uint)(expectedPdo + 1000 + 4)));
        Assert.That(reader.Common.Flags, Is.EqualTo(PduFlags.DataDigest | PduFlags.Last | PduFlags.Success));
        var buffer = new byte[1000];
        Assert.That(await reader.ReadDataAsync(buffer), Is.True);
        Assert.That(buffer, Is.EqualTo(data));
    }

    [Test]
    public async Task DataDigest_Corrupted_ReadDataReturnsFalse()
    {
        var (writer, reader, pipe) = Create(PduRole.Controller, hd: false, dd: true);
        var raw = new byte[24 + 8 + 4];
        new H2CDataPdu(1, 0, 0, 8).WriteHeader(raw, PduFlags.DataDigest | PduFlags.Last, 24, (uint)raw.Length);
        BinaryPrimitives.WriteUInt32LittleEndian(raw.AsSpan(32), 0xdeadbeef);
        await pipe.Writer.WriteAsync(raw);
        Assert.That(await reader.ReadHeaderAsync(), Is.True);
        Assert.That(await reader.ReadDataAsync(new byte[8]), Is.False);
        _ = writer;
    }

    [Test]
    public async Task HeaderDigest_Corrupted_ThrowsFes03()
    {
        var (writer, reader, pipe) = Create(PduRole.Host, hd: true, dd: false);
        writer.WriteCapsuleResp(new NvmeCompletion { CommandId = 9 });
        var result = await pipe.Writer.FlushAsync();
        Assert.That(result.IsCompleted, Is.False);
        var read = await pipe.Reader.ReadAsync();
        var bytes = read.Buffer.ToArray();
        pipe.Reader.AdvanceTo(read.Buffer.End);
        bytes[20] ^= 1;
        var pipe2 = new Pipe();
        await pipe2.Writer.WriteAsync(bytes);
        var reader2 = new PduReader(pipe2.Reader, PduRole.Host, new PduSettings { HeaderDigest = true });
        var ex = Assert.ThrowsAsync<PduException>(async () => await reader2.ReadHeaderAsync());
        Assert.That(ex!.Fes, Is.EqualTo(TermReqFes.HeaderDigestError));
        _ = reader;
    }

    [Test]
    public async Task CleanEndOfStream_AtPduBoundary_ReturnsFalse()
    {
        var (_, reader, pipe) = Create(PduRole.Controller, false, false);
        await pipe.Writer.CompleteAsync();
        Assert.That(await reader.ReadHeaderAsync(), Is.False);
    }

    [Test]
    public async Task StreamCutInsideHeader_ThrowsEndOfStream()
    {
        var (_, reader, pipe) = Create(PduRole.Controller, false, false);
        await pipe.Writer.WriteAsync(new byte[] { 4, 0, 72, 0, 72, 0, 0, 0, 1, 2 });
        await pipe.Writer.CompleteAsync();
        Assert.ThrowsAsync<EndOfStreamException>(async () => await reader.ReadHeaderAsync());
    }

    [Test]
    public async Task ByteAtATime_DeliveredPdu_IsReadWhole()
    {
        var (writer, _, pipe) = Create(PduRole.Controller, true, true);
        var cmd = new NvmeCommand { Opcode = 1, CommandId = 5, SglIdentifier = 1, SglLength = 100 };
        var data = Enumerable.Range(0, 100).Select(i => (byte)i).ToArray();
        writer.WriteCapsuleCmd(cmd, data);
        await writer.FlushAsync();
        var all = await pipe.Reader.ReadAsync();
        var bytes = all.Buffer.ToArray();
        pipe.Reader.AdvanceTo(all.Buffer.End);

        var trickle = new Pipe();
        var reader = new PduReader(trickle.Reader, PduRole.Controller, new PduSettings { HeaderDigest = true, DataDigest = true });
        var feed = Task.Run(async () =>
        {
            foreach (var b in bytes)
            {
                await trickle.Writer.WriteAsync(new byte[] { b });
            }
        });
        Assert.That(await reader.ReadHeaderAsync(), Is.True);
        var buffer = new byte[100];
        Assert.That(await reader.ReadDataAsync(buffer), Is.True);
        Assert.That(buffer, Is.EqualTo(data));
        await feed;
    }
}
