using NvmeMptls.Transport.Nvme;
using NvmeMptls.Transport.Pdu;

namespace NvmeMptls.Tests.Pdu;

/// <summary>Byte-exact vectors from ../shared/reference/nvme-tcp.md and size/offset pins.</summary>
public sealed class PduVectorTests
{
    [Test]
    public void IcReq_BothDigests_MatchesReferenceBytes()
    {
        var pdu = new byte[128];
        new IcReqPdu(0, 0, HeaderDigest: true, DataDigest: true, MaxR2T: 0).Write(pdu);
        var expected = new byte[128];
        new byte[] { 0x00, 0x00, 0x80, 0x00, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00, 0x00 }.CopyTo(expected, 0);
        Assert.That(pdu, Is.EqualTo(expected));
    }

    [Test]
    public void Crc32C_CheckValue_IsE3069283()
    {
        var data = "123456789"u8;
        Assert.That(Crc32C.Compute(data), Is.EqualTo(0xE3069283u));
        Assert.That(~Crc32C.UpdatePortable(Crc32C.Seed, data), Is.EqualTo(0xE3069283u));
    }

    [Test]
    public void Crc32C_HardwareAndPortable_AgreeOnRandomData()
    {
        var rng = new Random(7);
        for (var len = 0; len < 300; len += 7)
        {
            var data = new byte[len];
            rng.NextBytes(data);
            Assert.That(Crc32C.Update(Crc32C.Seed, data), Is.EqualTo(Crc32C.UpdatePortable(Crc32C.Seed, data)), $"length {len}");
        }
    }

    [Test]
    public void CapsuleResp_HeaderDigest_MatchesReferenceExample()
    {
        var cqe = new NvmeCompletion { Dw0 = 1, Dw1 = 0, SqHead = 1, SqId = 0, CommandId = 0x1234, Status = NvmeStatus.Success };
        var pdu = new byte[28];
        CapsuleRespPdu.WriteHeader(pdu, PduFlags.HeaderDigest, 28, cqe);
        var expectedHeader = new byte[] { 0x05, 0x01, 0x18, 0x00, 0x1c, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x34, 0x12, 0x00, 0x00 };
        Assert.That(pdu.AsSpan(0, 24).ToArray(), Is.EqualTo(expectedHeader));
        Assert.That(Crc32C.Compute(pdu.AsSpan(0, 24)), Is.EqualTo(0x489DD980u));
    }

    [Test]
    public void DataDigest_Bytes00To0F_MatchesReference()
    {
        var data = Enumerable.Range(0, 16).Select(i => (byte)i).ToArray();
        Assert.That(Crc32C.Compute(data), Is.EqualTo(0xD9C908EBu));
    }

    [Test]
    public void HeaderSizesAndOffsets_ArePinned()
    {
        Assert.Multiple(() =>
        {
            Assert.That(PduCommonHeader.Size, Is.EqualTo(8));
            Assert.That(IcReqPdu.HeaderLength, Is.EqualTo(128));
            Assert.That(IcRespPdu.HeaderLength, Is.EqualTo(128));
            Assert.That(CapsuleCmdPdu.HeaderLength, Is.EqualTo(72));
            Assert.That(CapsuleRespPdu.HeaderLength, Is.EqualTo(24));
            Assert.That(H2CDataPdu.HeaderLength, Is.EqualTo(24));
            Assert.That(C2HDataPdu.HeaderLength, Is.EqualTo(24));
            Assert.That(R2TPdu.HeaderLength, Is.EqualTo(24));
            Assert.That(H2CTermReqPdu.HeaderLength, Is.EqualTo(24));
            Assert.That(C2HTermReqPdu.HeaderLength, Is.EqualTo(24));
            Assert.That(IcReqPdu.MaxR2TOffset, Is.EqualTo(12));
            Assert.That(IcRespPdu.MaxH2CDataOffset, Is.EqualTo(12));
            Assert.That(NvmeCommand.Size, Is.EqualTo(64));
            Assert.That(NvmeCompletion.Size, Is.EqualTo(16));
            Assert.That(NvmeCommand.SglIdentifierOffset, Is.EqualTo(39));
            Assert.That(NvmeCommand.Cdw10Offset, Is.EqualTo(40));
            Assert.That(NvmeCompletion.StatusOffset, Is.EqualTo(14));
            Assert.That(ConnectData.SubNqnOffset, Is.EqualTo(256));
            Assert.That(ConnectData.HostNqnOffset, Is.EqualTo(512));
            Assert.That(IdentifyController.SglsOffset, Is.EqualTo(536));
            Assert.That(IdentifyController.IoccszOffset, Is.EqualTo(1792));
            Assert.That(IdentifyController.SubNqnOffset, Is.EqualTo(768));
            Assert.That(IdentifyNamespace.NguidOffset, Is.EqualTo(104));
            Assert.That(IdentifyNamespace.Lbaf0Offset, Is.EqualTo(128));
            Assert.That(DiscoveryLogEntry.Size, Is.EqualTo(1024));
        });
    }

    [Test]
    public void PduTypes_HaveSpecValues()
    {
        Assert.That(new[] { PduType.ICReq, PduType.ICResp, PduType.H2CTermReq, PduType.C2HTermReq, PduType.CapsuleCmd, PduType.CapsuleResp, PduType.H2CData, PduType.C2HData, PduType.R2T }
            .Select(t => (byte)t), Is.EqualTo(new byte[] { 0, 1, 2, 3, 4, 5, 6, 7, 9 }));
    }

    [Test]
    public void Status_ConnectInvalidParametersWithDnr_EncodesAsReference()
    {
        var status = NvmeStatus.Make(1, 0x82, dnr: true);
        Assert.That(status.Value, Is.EqualTo(0x4182));
        var cqe = new byte[16];
        new NvmeCompletion { Status = status }.Write(cqe);
        Assert.That(cqe[14..16], Is.EqualTo(new byte[] { 0x04, 0x83 }));
        Assert.That(NvmeCompletion.Read(cqe).Status, Is.EqualTo(status));
    }

    [Test]
    public void TermReq_CarriesFesFeiAndOffendingHeader()
    {
        var offending = Enumerable.Range(0, 200).Select(i => (byte)i).ToArray();
        var pdu = new byte[152];
        var len = new C2HTermReqPdu(TermReqFes.InvalidHeaderField, 4).Write(pdu, offending);
        Assert.That(len, Is.EqualTo(152));
        var ch = PduCommonHeader.Read(pdu);
        Assert.That(ch, Is.EqualTo(new PduCommonHeader(PduType.C2HTermReq, PduFlags.None, 24, 0, 152)));
        Assert.That(pdu[8..10], Is.EqualTo(new byte[] { 1, 0 }));
        Assert.That(pdu[10..14], Is.EqualTo(new byte[] { 4, 0, 0, 0 }));
        Assert.That(pdu[24..152], Is.EqualTo(offending[..128]));
    }

    [Test]
    public void ConnectData_RoundTrips()
    {
        var data = new ConnectData(Guid.Parse("f81d4fae-7dec-11d0-a765-00a0c91e6bf6"), 0xFFFF, "nqn.2024-01.io.example:subsys1", "nqn.2014-08.org.nvmexpress:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6");
        var bytes = new byte[1024];
        data.Write(bytes);
        Assert.That(bytes[0], Is.EqualTo(0xf8));
        Assert.That(bytes[16..18], Is.EqualTo(new byte[] { 0xff, 0xff }));
        Assert.That(ConnectData.Read(bytes), Is.EqualTo(data));
    }
}
