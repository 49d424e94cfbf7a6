using System.Buffers.Binary;
using System.IO.Pipelines;
using NvmeMptls.Transport.Pdu;

namespace NvmeMptls.Tests.Pdu;

/// <summary>Each class of malformed header maps to the FES and field offset a TermReq must carry.</summary>
public sealed class PduHostileHeaderTests
{
    private static async Task<PduException> ReadBad(PduRole role, byte[] header, PduSettings? settings = null)
    {
        var pipe = new Pipe();
        await pipe.Writer.WriteAsync(header);
        var reader = new PduReader(pipe.Reader, role, settings ?? new PduSettings { MaxInCapsuleData = 8192, MaxH2CData = 65536 });
        return Assert.ThrowsAsync<PduException>(async () => await reader.ReadHeaderAsync())!;
    }

    private static byte[] Header(PduType type, byte flags, byte hlen, byte pdo, uint plen, int size = 72)
    {
        var h = new byte[Math.Max(size, 8)];
        h[0] = (byte)type;
        h[1] = flags;
        h[2] = hlen;
        h[3] = pdo;
        BinaryPrimitives.WriteUInt32LittleEndian(h.AsSpan(4), plen);
        return h;
    }

    [Test]
    public async Task UnknownType_TerminatesWithFes01AtOffset0()
    {
        var ex = await ReadBad(PduRole.Controller, Header((PduType)0x08, 0, 24, 0, 24));
        Assert.That((ex.Fes, ex.Fei), Is.EqualTo((TermReqFes.InvalidHeaderField, 0u)));
    }

    [Test]
    public async Task ControllerToHostTypeSentToController_TerminatesWithFes01AtOffset0()
    {
        var ex = await ReadBad(PduRole.Controller, Header(PduType.R2T, 0, 24, 0, 24));
        Assert.That((ex.Fes, ex.Fei), Is.EqualTo((TermReqFes.InvalidHeaderField, 0u)));
    }

    [Test]
    public async Task WrongHlen_TerminatesWithFes01AtOffset2()
    {
        var ex = await ReadBad(PduRole.Controller, Header(PduType.CapsuleCmd, 0, 64, 0, 72));
        Assert.That((ex.Fes, ex.Fei), Is.EqualTo((TermReqFes.InvalidHeaderField, 2u)));
    }

    [Test]
    public async Task IcReqWrongPlen_TerminatesWithFes01AtOffset4()
    {
        var ex = await ReadBad(PduRole.Controller, Header(PduType.ICReq, 0, 128, 0, 129, 128));
        Assert.That((ex.Fes, ex.Fei), Is.EqualTo((TermReqFes.InvalidHeaderField, 4u)));
    }

    [Test]
    public async Task HugePlen_IsRefusedBeforeAnyBodyIsRead()
    {
        // Only the header is ever sent: the reader must refuse without waiting for 4 GiB.
        var ex = await ReadBad(PduRole.Controller, Header(PduType.CapsuleCmd, 0, 72, 72, 0xFFFFFFF0));
        Assert.That((ex.Fes, ex.Fei), Is.EqualTo((TermReqFes.InvalidHeaderField, 4u)));
    }

    [Test]
    public async Task H2CDataOverMaxH2CData_TerminatesWithFes05()
    {
        var ex = await ReadBad(PduRole.Controller, Header(PduType.H2CData, 0, 24, 24, 24 + 65537, 24));
        Assert.That(ex.Fes, Is.EqualTo(TermReqFes.DataTransferLimitExceeded));
    }

    [Test]
    public async Task PdoInsideHeader_TerminatesWithFes01AtOffset3()
    {
        var ex = await ReadBad(PduRole.Controller, Header(PduType.H2CData, 0, 24, 16, 100, 24));
        Assert.That((ex.Fes, ex.Fei), Is.EqualTo((TermReqFes.InvalidHeaderField, 3u)));
    }

    [Test]
    public async Task PdoMisaligned_TerminatesWithFes01AtOffset3()
    {
        var settings = new PduSettings { ReceiveAlignment = 7, MaxH2CData = 65536 };
        var ex = await ReadBad(PduRole.Controller, Header(PduType.H2CData, 0, 24, 24, 100, 24), settings);
        Assert.That((ex.Fes, ex.Fei), Is.EqualTo((TermReqFes.InvalidHeaderField, 3u)));
    }

    [Test]
    public async Task MissingHdgstfWithHeaderDigestOn_TerminatesWithFes01AtOffset1()
    {
        var ex = await ReadBad(PduRole.Controller, Header(PduType.CapsuleCmd, 0, 72, 0, 76, 76), new PduSettings { HeaderDigest = true });
        Assert.That((ex.Fes, ex.Fei), Is.EqualTo((TermReqFes.InvalidHeaderField, 1u)));
    }

    [Test]
    public async Task MissingDdgstfWithDataDigestOn_TerminatesWithFes01AtOffset1()
    {
        var ex = await ReadBad(PduRole.Controller, Header(PduType.H2CData, 0, 24, 24, 24 + 16 + 4, 24), new PduSettings { DataDigest = true, MaxH2CData = 65536 });
        Assert.That((ex.Fes, ex.Fei), Is.EqualTo((TermReqFes.InvalidHeaderField, 1u)));
    }

    [Test]
    public async Task TermReqPlenTooLarge_TerminatesWithFes01AtOffset4()
    {
        var ex = await ReadBad(PduRole.Host, Header(PduType.C2HTermReq, 0, 24, 0, 153, 24));
        Assert.That((ex.Fes, ex.Fei), Is.EqualTo((TermReqFes.InvalidHeaderField, 4u)));
    }

    [Test]
    public async Task CapsuleRespWithData_TerminatesWithFes01AtOffset4()
    {
        var ex = await ReadBad(PduRole.Host, Header(PduType.CapsuleResp, 0, 24, 0, 40, 24));
        Assert.That((ex.Fes, ex.Fei), Is.EqualTo((TermReqFes.InvalidHeaderField, 4u)));
    }
}
