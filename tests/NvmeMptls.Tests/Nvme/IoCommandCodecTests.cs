using NvmeMptls.Transport.Nvme;

namespace NvmeMptls.Tests.Nvme;

/// <summary>Read/Write/Write Zeroes/Dataset Management fields and the 16-byte DSM range (reference §3.9).</summary>
public sealed class IoCommandCodecTests
{
    [Test]
    public void ReadWrite_WritesByteExactSqe_AndReadsBack()
    {
        var command = IoCommand.ReadWrite(IoOpcodes.Write, nsid: 7, lba: 0x0000_0102_0304_0506, blocks: 0x100, forceUnitAccess: true);
        var sqe = new byte[NvmeCommand.Size];
        command.Write(sqe);
        Assert.Multiple(() =>
        {
            Assert.That(sqe[0], Is.EqualTo(0x01), "opcode");
            Assert.That(sqe[4..8], Is.EqualTo(new byte[] { 7, 0, 0, 0 }), "NSID");
            Assert.That(sqe[40..48], Is.EqualTo(new byte[] { 0x06, 0x05, 0x04, 0x03, 0x02, 0x01, 0, 0 }), "CDW10-11 SLBA");
            Assert.That(sqe[48..52], Is.EqualTo(new byte[] { 0xFF, 0x00, 0x00, 0x40 }), "CDW12: NLB 0's based 0xFF, FUA bit 30");
            var back = NvmeCommand.Read(sqe);
            Assert.That(IoCommand.StartLbaOf(back), Is.EqualTo(0x0000_0102_0304_0506UL));
            Assert.That(IoCommand.BlockCountOf(back), Is.EqualTo(0x100u));
            Assert.That(IoCommand.ForceUnitAccessOf(back), Is.True);
            Assert.That(IoCommand.DeallocateOf(back), Is.False);
        });
    }

    [Test]
    public void ReadWrite_LargestCommand_HasNlbFFFF()
    {
        var command = IoCommand.ReadWrite(IoOpcodes.Read, 1, 0, IoCommand.MaxBlocks, forceUnitAccess: false);
        Assert.Multiple(() =>
        {
            Assert.That(command.Cdw12, Is.EqualTo(0xFFFFu));
            Assert.That(IoCommand.BlockCountOf(command), Is.EqualTo(65536u));
            Assert.That(IoCommand.ForceUnitAccessOf(command), Is.False);
        });
    }

    [Test]
    public void WriteZeroes_Deallocate_SetsBit25Only()
    {
        var command = IoCommand.WriteZeroes(1, 8, 16, deallocate: true);
        Assert.Multiple(() =>
        {
            Assert.That(command.Opcode, Is.EqualTo(0x08));
            Assert.That(command.Cdw12, Is.EqualTo((1u << 25) | 15));
            Assert.That(IoCommand.DeallocateOf(command), Is.True);
            Assert.That(IoCommand.ForceUnitAccessOf(command), Is.False);
        });
    }

    [Test]
    public void Deallocate_RangeCountIsZeroBased_AndAdIsBit2()
    {
        var command = IoCommand.Deallocate(3, ranges: 256);
        Assert.Multiple(() =>
        {
            Assert.That(command.Opcode, Is.EqualTo(0x09));
            Assert.That(command.Cdw10, Is.EqualTo(0xFFu));
            Assert.That(command.Cdw11, Is.EqualTo(4u));
            Assert.That(IoCommand.DsmRangeCountOf(command), Is.EqualTo(IoCommand.MaxDsmRanges));
            Assert.That(IoCommand.DsmDeallocateOf(command), Is.True);
        });
    }

    [Test]
    public void DsmRange_IsSixteenBytes_WithOneBasedLength()
    {
        var bytes = new byte[DsmRange.Size];
        new DsmRange(0x11223344, 8, 0x0102030405060708).Write(bytes);
        Assert.Multiple(() =>
        {
            Assert.That(bytes, Is.EqualTo(new byte[] { 0x44, 0x33, 0x22, 0x11, 8, 0, 0, 0, 8, 7, 6, 5, 4, 3, 2, 1 }));
            Assert.That(DsmRange.Read(bytes), Is.EqualTo(new DsmRange(0x11223344, 8, 0x0102030405060708)));
        });
    }
}
