using System.Buffers.Binary;
using System.Net.Sockets;
using System.Security.Cryptography;
using NvmeMptls.Target.Server;
using NvmeMptls.Target.Subsystems;
using NvmeMptls.TestKit;
using NvmeMptls.Transport.Multipath;
using NvmeMptls.Transport.Nvme;
using NvmeMptls.Transport.Pdu;
using NvmeMptls.Transport.Sockets;

namespace NvmeMptls.IntegrationTests.Limits;

/// <summary>
/// Data-phase and send-stall deadlines over real sockets with short configured timeouts (issue 12): a host that
/// takes R2Ts and goes silent, one that drips its H2CData, and one that never reads its socket are cut at the
/// deadline and every data buffer they held goes back to the pool; a host that is slow but finishes each transfer
/// within the deadline keeps its connection. Bounds are generous; nothing here is a timing measurement.
/// </summary>
[NonParallelizable]
public sealed class DataDeadlineLoopbackTests
{
    private const int Block = 512;
    private static readonly TimeSpan Deadline = TimeSpan.FromMilliseconds(1500);
    private static readonly TargetLimits Short = new() { DataTimeout = Deadline, SendStallTimeout = Deadline };

    [Test]
    public async Task WriteByR2T_HostSilentAfterTheR2T_CutAtTheDataDeadlineAndBuffersReturned()
    {
        await using var target = LoopbackTarget.Start(namespaceBytes: 16L << 20, limits: Short);
        await using var admin = await RawNvmeHost.OpenAsync(target.EndPoint, LoopbackTarget.SubsystemNqn, 0);
        await using var io = await RawNvmeHost.OpenAsync(target.EndPoint, LoopbackTarget.SubsystemNqn, 1, admin.ControllerId);

        await SendWriteCommandAsync(io, cid: 7, length: 256 << 10);
        var r2t = await ReadR2TAsync(io);
        Assert.That(r2t.Length, Is.EqualTo(256u << 10));
        Assert.That(target.Server.Registry.Buffers.BytesInUse, Is.GreaterThanOrEqualTo(256L << 10), "the R2T holds its buffer");

        // Silent: the target closes (no TermReq: no FES describes a timeout, see TargetQueue.Deadlines).
        Assert.That(await io.ReadTermReqAsync().WaitAsync(TimeSpan.FromSeconds(20)), Is.Null);
        await AssertCutAsync(target, SetupPhase.Data);
    }

    [Test]
    public async Task WriteByR2T_H2CDataOneBytePer200Ms_CutAtTheDataDeadlineNotKeptAlive()
    {
        await using var target = LoopbackTarget.Start(namespaceBytes: 16L << 20, limits: Short);
        await using var admin = await RawNvmeHost.OpenAsync(target.EndPoint, LoopbackTarget.SubsystemNqn, 0);
        await using var io = await RawNvmeHost.OpenAsync(target.EndPoint, LoopbackTarget.SubsystemNqn, 1, admin.ControllerId);

        const int Length = 4096;
        await SendWriteCommandAsync(io, cid: 9, length: Length);
        var r2t = await ReadR2TAsync(io);
        var header = RawNvmeHost.Header(PduType.H2CData, (byte)PduFlags.Last, 24, 24, 24 + Length, 24);
        BinaryPrimitives.WriteUInt16LittleEndian(header.AsSpan(8), r2t.CommandId);
        BinaryPrimitives.WriteUInt16LittleEndian(header.AsSpan(10), r2t.TransferTag);
        BinaryPrimitives.WriteUInt32LittleEndian(header.AsSpan(12), 0);
        BinaryPrimitives.WriteUInt32LittleEndian(header.AsSpan(16), Length);
        await io.SendRawAsync(header);

        // A byte every 200 ms keeps the bytes flowing far past the deadline (4096 bytes would take 13 minutes).
        var ended = target.Server.Registry.Counters.ConnectionsEndedByReason;
        var watch = System.Diagnostics.Stopwatch.StartNew();
        for (var i = 0; i < Length && watch.Elapsed < TimeSpan.FromSeconds(20) && Interlocked.Read(ref ended[(int)ConnectionEndReason.TransferTimeout]) == 0; i++)
        {
            try
            {
                await io.SendRawAsync(new byte[] { (byte)i });
            }
            catch (Exception ex) when (ex is IOException or SocketException or InvalidOperationException or ObjectDisposedException)
            {
                break;
            }

            await Task.Delay(200);
        }

        await TestContext.Out.WriteLineAsync($"dripped for {watch.ElapsedMilliseconds} ms");
        await AssertCutAsync(target, SetupPhase.Data);
    }

    [Test]
    public async Task LargeReads_HostNeverReadsItsSocket_CutAtTheSendStallDeadlineAndBuffersReturned()
    {
        await using var target = LoopbackTarget.Start(namespaceBytes: 64L << 20, limits: Short);
        await using var admin = await RawNvmeHost.OpenAsync(target.EndPoint, LoopbackTarget.SubsystemNqn, 0);

        // A small receive buffer (set before connecting, so the window is small from the start).
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { ReceiveBufferSize = 16 << 10 };
        await socket.ConnectAsync(target.EndPoint);
        await using var io = new RawNvmeHost(new SocketConnection(socket, MultipathPolicy.Disabled));
        await io.InitializeAsync();
        var connect = await io.ConnectAsync(LoopbackTarget.SubsystemNqn, 1, 31, admin.ControllerId);
        Assert.That(connect.Status.IsSuccess, Is.True, connect.Status.ToString());

        // 24 reads of 1 MiB, and then nothing is ever read from the socket.
        const int Size = 1 << 20;
        for (ushort cid = 1; cid <= 24; cid++)
        {
            var cmd = io.Command(IoOpcodes.Read, 1, cdw10: (uint)(cid * Size / Block), cdw12: (Size / Block) - 1, length: Size);
            cmd.CommandId = cid;
            io.Writer.WriteCapsuleCmd(cmd, default);
        }

        await io.Writer.FlushAsync();
        await WaitUntilAsync(() => target.Server.Registry.Buffers.BytesInUse >= 8L * Size, "read data piles up");
        await AssertCutAsync(target, SetupPhase.Send);
    }

    [Test]
    public async Task SilentHostHoldingTheWholeProcessBudget_AnotherHostsWriteWaitsOnlyUntilTheDataDeadline()
    {
        var limits = Short with { MaxBufferedBytes = 1 << 20, MaxConnectionBufferedBytes = 1 << 20 };
        await using var target = LoopbackTarget.Start(namespaceBytes: 16L << 20, limits: limits);
        await using var admin = await RawNvmeHost.OpenAsync(target.EndPoint, LoopbackTarget.SubsystemNqn, 0);
        await using var stalled = await RawNvmeHost.OpenAsync(target.EndPoint, LoopbackTarget.SubsystemNqn, 1, admin.ControllerId);
        await using var other = await RawNvmeHost.OpenAsync(target.EndPoint, LoopbackTarget.SubsystemNqn, 2, admin.ControllerId);

        // The stalled queue takes the whole 1 MiB budget with one R2T and never answers it.
        await SendWriteCommandAsync(stalled, cid: 3, length: 1 << 20);
        _ = await ReadR2TAsync(stalled);

        // The other host's write has to wait for a buffer; before issue 12 it waited for ever.
        var data = RandomNumberGenerator.GetBytes(256 << 10);
        var cmd = other.Command(IoOpcodes.Write, 1, cdw10: 4096, cdw12: (uint)(data.Length / Block) - 1);
        var write = await other.ExecuteAsync(cmd, data, null, inCapsule: false).WaitAsync(TimeSpan.FromSeconds(20));
        Assert.That(write.Status.IsSuccess, Is.True, write.Status.ToString());
        Assert.That(target.Server.Registry.Counters.LimitsReached[(int)LimitKind.BufferedBytes], Is.GreaterThan(0), "the write did wait for the process budget");
        await AssertCutAsync(target, SetupPhase.Data);
        var read = await other.ReadAsync(1, 4096, data.Length);
        Assert.That(read.Data, Is.EqualTo(data));
    }

    [Test]
    public async Task SlowButProgressingHost_EachTransferWithinTheDeadline_NotCut()
    {
        var limits = new TargetLimits { DataTimeout = TimeSpan.FromSeconds(3), SendStallTimeout = TimeSpan.FromSeconds(3) };
        await using var target = LoopbackTarget.Start(namespaceBytes: 16L << 20, limits: limits);
        await using var admin = await RawNvmeHost.OpenAsync(target.EndPoint, LoopbackTarget.SubsystemNqn, 0);
        await using var io = await RawNvmeHost.OpenAsync(target.EndPoint, LoopbackTarget.SubsystemNqn, 1, admin.ControllerId);

        // 8 writes of 32 KiB, each sent as 8 H2CData PDUs 100 ms apart (about 0.8 s a transfer, 6+ s in all, twice
        // the deadline), each read back after a pause: the connection lives longer than any deadline and is kept.
        const int Length = 32 << 10;
        const int Piece = 4 << 10;
        for (ushort cid = 1; cid <= 8; cid++)
        {
            var data = RandomNumberGenerator.GetBytes(Length);
            await SendWriteCommandAsync(io, cid, Length, slba: (ulong)cid * Length / Block);
            var r2t = await ReadR2TAsync(io);
            for (var offset = 0; offset < Length; offset += Piece)
            {
                io.Writer.WriteH2CData(new H2CDataPdu(r2t.CommandId, r2t.TransferTag, (uint)offset, Piece), data.AsSpan(offset, Piece), last: offset + Piece == Length);
                await io.Writer.FlushAsync();
                await Task.Delay(100);
            }

            Assert.That(await io.Reader.ReadHeaderAsync(), Is.True, "target closed a slow host");
            Assert.That(io.Reader.Common.Type, Is.EqualTo(PduType.CapsuleResp));
            Assert.That(CapsuleRespPdu.ReadCompletion(io.Reader.Header).Status.IsSuccess, Is.True);
            await Task.Delay(300);
            var read = await io.ReadAsync(1, (ulong)cid * Length / Block, Length);
            Assert.That(read.Data, Is.EqualTo(data), $"write {cid}");
        }

        var counters = target.Server.Registry.Counters;
        Assert.That(counters.SetupTimeouts[(int)SetupPhase.Data], Is.Zero);
        Assert.That(counters.SetupTimeouts[(int)SetupPhase.Send], Is.Zero);
        Assert.That(counters.ConnectionsEndedByReason[(int)ConnectionEndReason.TransferTimeout], Is.Zero);
    }

    private static async Task SendWriteCommandAsync(RawNvmeHost io, ushort cid, int length, ulong slba = 0)
    {
        var cmd = io.Command(IoOpcodes.Write, 1, cdw10: (uint)slba, cdw11: (uint)(slba >> 32), cdw12: (uint)(length / Block) - 1, length: (uint)length);
        cmd.CommandId = cid;
        io.Writer.WriteCapsuleCmd(cmd, default);
        await io.Writer.FlushAsync();
    }

    private static async Task<R2TPdu> ReadR2TAsync(RawNvmeHost io)
    {
        Assert.That(await io.Reader.ReadHeaderAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(10)), Is.True, "no R2T");
        Assert.That(io.Reader.Common.Type, Is.EqualTo(PduType.R2T));
        return R2TPdu.Read(io.Reader.Header);
    }

    /// <summary>The queue ended at the phase deadline, counted once, and every data buffer is back in the pool.</summary>
    private static async Task AssertCutAsync(LoopbackTarget target, SetupPhase phase)
    {
        var counters = target.Server.Registry.Counters;
        await WaitUntilAsync(() => Interlocked.Read(ref counters.ConnectionsEndedByReason[(int)ConnectionEndReason.TransferTimeout]) == 1, "queue ended by the transfer deadline");
        Assert.That(Interlocked.Read(ref counters.SetupTimeouts[(int)phase]), Is.EqualTo(1), $"{phase} deadline counted");
        await WaitUntilAsync(() => target.Server.Registry.Buffers.BytesInUse == 0, "data buffers returned to the pool");
    }

    private static async Task WaitUntilAsync(Func<bool> condition, string what)
    {
        for (var i = 0; i < 800 && !condition(); i++)
        {
            await Task.Delay(25);
        }

        Assert.That(condition(), Is.True, what);
    }
}
