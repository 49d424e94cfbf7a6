using System.Threading.Channels;
using NvmeMptls.Transport.Connections;
using NvmeMptls.Transport.Nvme;
using NvmeMptls.Transport.Pdu;

namespace NvmeMptls.Tests.Nvme;

/// <summary>Status accessors (reference §2.1), the data-PDU field offsets both sides report in FEI (§1.7), and the send-loop stop.</summary>
public sealed class StatusAndOffsetTests
{
    [Test]
    public void NvmeStatus_Accessors_SplitTheLinuxForm()
    {
        // "Connect Invalid Parameters, DNR" = 0x4182, CQE field 0x8304 (reference §2.1), plus More and CRD 2.
        var status = NvmeStatus.FromCqeField(0x8304 | (0x2000 << 1) | (0x1000 << 1));
        Assert.Multiple(() =>
        {
            Assert.That(status.Value, Is.EqualTo(0x7182));
            Assert.That(status.Code, Is.EqualTo(NvmeStatusCodes.ConnectInvalidParameters));
            Assert.That(status.StatusCode, Is.EqualTo(0x82));
            Assert.That(status.StatusCodeType, Is.EqualTo(1));
            Assert.That(status.DoNotRetry, Is.True);
            Assert.That(status.More, Is.True);
            Assert.That(status.RetryDelay, Is.EqualTo(2));
            Assert.That(status.Is(NvmeStatusCodes.ConnectInvalidParameters), Is.True);
            Assert.That(status.IsSuccess, Is.False);
            Assert.That(new NvmeStatus(NvmeStatus.DnrBit | NvmeStatus.MoreBit).IsSuccess, Is.True, "DNR/More alone are not an error code");
            Assert.That(NvmeStatusCodes.Describe(status), Is.EqualTo("Connect Invalid Parameters"));
        });
    }

    [Test]
    public void DataPduOffsets_ArePublicAndPinned()
    {
        Assert.Multiple(() =>
        {
            Assert.That(DataPduLayout.HeaderLength, Is.EqualTo(24));
            Assert.That(DataPduLayout.CccidOffset, Is.EqualTo(8));
            Assert.That(DataPduLayout.TtagOffset, Is.EqualTo(10));
            Assert.That(DataPduLayout.DataOffsetOffset, Is.EqualTo(12));
            Assert.That(DataPduLayout.DataLengthOffset, Is.EqualTo(16));
            Assert.That(DataPduLayout.ReservedOffset, Is.EqualTo(20));
            Assert.That(C2HDataPdu.CommandIdFieldOffset, Is.EqualTo(8));
            Assert.That(H2CDataPdu.CommandIdFieldOffset, Is.EqualTo(8));
            Assert.That(R2TPdu.CommandIdFieldOffset, Is.EqualTo(8));
            Assert.That(R2TPdu.TransferTagFieldOffset, Is.EqualTo(10));
            Assert.That(R2TPdu.OffsetFieldOffset, Is.EqualTo(12));
            Assert.That(R2TPdu.LengthFieldOffset, Is.EqualTo(16));
            Assert.That(CapsuleRespPdu.CommandIdFieldOffset, Is.EqualTo(20));
            Assert.That(TermReqLayout.FesOffset, Is.EqualTo(8));
            Assert.That(TermReqLayout.FeiOffset, Is.EqualTo(10));
            Assert.That(TermReqLayout.MaxPduLength, Is.EqualTo(152u));
        });
    }

    [Test]
    public async Task SendLoopStop_TokenFires_PostsTheStopItemOnce()
    {
        var channel = Channel.CreateUnbounded<int>();
        using var cts = new CancellationTokenSource();
        using (SendLoopStop.PostOnCancel(channel.Writer, -1, cts.Token))
        {
            Assert.That(channel.Reader.TryRead(out _), Is.False);
            await cts.CancelAsync();
        }

        Assert.Multiple(() =>
        {
            Assert.That(channel.Reader.TryRead(out var item), Is.True);
            Assert.That(item, Is.EqualTo(-1));
            Assert.That(channel.Reader.TryRead(out _), Is.False);
        });
    }

    [Test]
    public void SendLoopStop_Disposed_PostsNothing()
    {
        var channel = Channel.CreateUnbounded<int>();
        using var cts = new CancellationTokenSource();
        SendLoopStop.PostOnCancel(channel.Writer, -1, cts.Token).Dispose();
        cts.Cancel();
        Assert.That(channel.Reader.TryRead(out _), Is.False);
    }
}
