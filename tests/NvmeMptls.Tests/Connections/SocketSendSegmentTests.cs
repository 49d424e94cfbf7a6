using NvmeMptls.Transport.Pdu;
using NvmeMptls.Transport.Sockets;
using NvmeMptls.Transport.Tls;

namespace NvmeMptls.Tests.Connections;

/// <summary>
/// The send loop makes one send call per segment of the send pipe, so the default segment decides how many calls a
/// queue's burst takes (the speed itself is measured by the benchmarks, bench/results/send-segment-20261207.md).
/// </summary>
public sealed class SocketSendSegmentTests
{
    [Test]
    public void DefaultSegment_HoldsAQueueDepth32BurstOf4KiBCommandsOrAnswers()
    {
        const int depth = 32;
        int writeCapsules = depth * (CapsuleCmdPdu.HeaderLength + 4096);
        int readAnswers = depth * (C2HDataPdu.HeaderLength + 4096 + CapsuleRespPdu.HeaderLength);
        Assert.Multiple(() =>
        {
            Assert.That(SocketConnectionOptions.Default.SendSegmentSize, Is.EqualTo(256 * 1024));
            Assert.That(writeCapsules, Is.LessThanOrEqualTo(SocketConnectionOptions.Default.SendSegmentSize), "32 capsules with 4 KiB in-capsule data");
            Assert.That(readAnswers, Is.LessThanOrEqualTo(SocketConnectionOptions.Default.SendSegmentSize), "32 reads' C2HData and responses");
        });
    }

    [Test]
    public void DefaultSegment_IsWholeTlsRecords()
    {
        int record = TlsRecordLimits.HeaderLength + TlsRecordLayerOptions.SegmentFittingPlaintext + 1 + TlsRecordLimits.TagLength;
        Assert.That(SocketConnectionOptions.Default.SendSegmentSize % record, Is.Zero);
    }
}
