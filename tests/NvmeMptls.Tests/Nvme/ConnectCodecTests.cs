using NvmeMptls.Transport.Nvme;

namespace NvmeMptls.Tests.Nvme;

/// <summary>Connect SQE fields, Connect data and Connect DW0, pinned to reference §2.3.</summary>
public sealed class ConnectCodecTests
{
    [Test]
    public void ConnectCommand_Offsets_ArePinned()
    {
        Assert.Multiple(() =>
        {
            Assert.That(ConnectCommand.RecordFormatOffset, Is.EqualTo(40));
            Assert.That(ConnectCommand.QueueIdOffset, Is.EqualTo(42));
            Assert.That(ConnectCommand.SqSizeOffset, Is.EqualTo(44));
            Assert.That(ConnectCommand.AttributesOffset, Is.EqualTo(46));
            Assert.That(ConnectCommand.KeepAliveOffset, Is.EqualTo(48));
            Assert.That(ConnectCommand.DisableSqFlowControl, Is.EqualTo(0x04));
        });
    }

    [Test]
    public void ConnectCommand_IoQueue_WritesByteExactSqe()
    {
        var sqe = new byte[NvmeCommand.Size];
        var command = new ConnectCommand(QueueId: 3, SqSize: 127, Attributes: ConnectCommand.DisableSqFlowControl, KeepAliveMilliseconds: 5000).ToCommand();
        command.Write(sqe);

        var expected = new byte[NvmeCommand.Size];
        expected[0] = 0x7F;                                  // Fabrics
        expected[4] = 0x01;                                  // FCTYPE Connect
        new byte[] { 0x00, 0x00, 0x03, 0x00, 0x7F, 0x00, 0x04, 0x00, 0x88, 0x13, 0x00, 0x00 }.CopyTo(expected, 40);
        Assert.That(sqe, Is.EqualTo(expected));
    }

    [Test]
    public void ConnectCommand_RoundTripsThroughTheSqe()
    {
        var original = new ConnectCommand(QueueId: 0xFFFE, SqSize: 31, Attributes: 0x05, KeepAliveMilliseconds: 0xDEADBEEF, RecordFormat: 0x1234);
        var sqe = new byte[NvmeCommand.Size];
        original.ToCommand().Write(sqe);
        var read = ConnectCommand.Read(NvmeCommand.Read(sqe));
        Assert.Multiple(() =>
        {
            Assert.That(read, Is.EqualTo(original));
            Assert.That(read.SqFlowControlDisabled, Is.True);
            Assert.That(NvmeCommand.Read(sqe).FabricsType, Is.EqualTo(FabricsOpcodes.Connect));
        });
    }

    [Test]
    public void ConnectData_Layout_ArePinned()
    {
        Assert.Multiple(() =>
        {
            Assert.That(ConnectData.Size, Is.EqualTo(1024));
            Assert.That(ConnectData.HostIdOffset, Is.EqualTo(0));
            Assert.That(ConnectData.HostIdLength, Is.EqualTo(16));
            Assert.That(ConnectData.CntlIdOffset, Is.EqualTo(16));
            Assert.That(ConnectData.SubNqnOffset, Is.EqualTo(256));
            Assert.That(ConnectData.HostNqnOffset, Is.EqualTo(512));
            Assert.That(ConnectData.NqnFieldLength, Is.EqualTo(256));
            Assert.That(ConnectData.MaxNqnLength, Is.EqualTo(223));
            Assert.That(ConnectData.DynamicControllerId, Is.EqualTo(0xFFFF));
        });
    }

    [Test]
    public void ConnectData_AdminConnect_WritesByteExactFields()
    {
        var data = new byte[ConnectData.Size];
        data.AsSpan().Fill(0xEE); // the writer clears what it does not set
        new ConnectData(Guid.Parse("f81d4fae-7dec-11d0-a765-00a0c91e6bf6"), ConnectData.DynamicControllerId, "nqn.2024-01.io.example:a", "nqn.2024-01.io.example:h").Write(data);

        Assert.Multiple(() =>
        {
            Assert.That(data[..16], Is.EqualTo(Convert.FromHexString("f81d4fae7dec11d0a76500a0c91e6bf6")), "HOSTID, UUID byte order");
            Assert.That(data[16..18], Is.EqualTo(new byte[] { 0xFF, 0xFF }), "CNTLID");
            Assert.That(data[18..256], Is.All.EqualTo((byte)0), "reserved");
            Assert.That(data[256..280], Is.EqualTo("nqn.2024-01.io.example:a"u8.ToArray()));
            Assert.That(data[280..512], Is.All.EqualTo((byte)0), "SUBNQN NUL padding");
            Assert.That(data[512..536], Is.EqualTo("nqn.2024-01.io.example:h"u8.ToArray()));
            Assert.That(data[536..], Is.All.EqualTo((byte)0), "HOSTNQN padding and reserved");
        });
    }

    [Test]
    public void ConnectData_Utf8Nqn_RoundTrips()
    {
        var data = new ConnectData(Guid.NewGuid(), 7, "nqn.2024-01.io.example:größe", "nqn.2024-01.io.example:hôte");
        var bytes = new byte[ConnectData.Size];
        data.Write(bytes);
        Assert.That(ConnectData.Read(bytes), Is.EqualTo(data));
    }

    [Test]
    public void ConnectData_NqnWithoutRoomForNul_IsRefused()
    {
        var bytes = new byte[ConnectData.Size];
        var tooLong = new ConnectData(Guid.Empty, 1, "nqn.2024-01.io.example:" + new string('a', 256 - 23), "nqn.2024-01.io.example:h");
        Assert.Throws<ArgumentException>(() => tooLong.Write(bytes));
    }

    [Test]
    public void ConnectData_UnterminatedNqn_StopsAtByte255LikeLinux()
    {
        var bytes = new byte[ConnectData.Size];
        bytes.AsSpan(ConnectData.SubNqnOffset, ConnectData.NqnFieldLength).Fill((byte)'a');
        Assert.That(ConnectData.Read(bytes).SubsystemNqn, Has.Length.EqualTo(255));
    }

    [Test]
    public void ConnectResponse_Success_CarriesControllerIdAndAuthReq()
    {
        Assert.Multiple(() =>
        {
            Assert.That(ConnectResponse.Success(0x0042).Dw0, Is.EqualTo(0x0000_0042u));
            Assert.That(ConnectResponse.Success(0x0042, authenticationRequired: true).Dw0, Is.EqualTo(0x0002_0042u));
            Assert.That(new ConnectResponse(0x0002_0042).AuthenticationRequired, Is.True);
            Assert.That(new ConnectResponse(0x0004_0001).AuthenticationRequired, Is.True, "ASCR");
            Assert.That(new ConnectResponse(0x0001_FFFF).AuthenticationRequired, Is.False, "bit 16 is not AUTHREQ");
            Assert.That(new ConnectResponse(0x0006_1234).ControllerId, Is.EqualTo(0x1234));
            Assert.That(ConnectResponse.AuthReqMask, Is.EqualTo(0x60000u));
        });
    }

    [TestCase(0x10010u, "CNTLID")]
    [TestCase(0x10100u, "SUBNQN")]
    [TestCase(0x10200u, "HOSTNQN")]
    [TestCase(0x10000u, "HOSTID")]
    [TestCase(0x10011u, "data offset 17")]
    [TestCase(42u, "QID")]
    [TestCase(44u, "SQSIZE")]
    [TestCase(48u, "KATO")]
    [TestCase(52u, "SQE offset 52")]
    public void ConnectResponse_InvalidParameter_NamesTheField(uint dw0, string field) =>
        Assert.That(new ConnectResponse(dw0).InvalidParameterName, Is.EqualTo(field));

    [Test]
    public void ConnectResponse_InvalidParameterValues_MatchReferenceExamples()
    {
        Assert.Multiple(() =>
        {
            Assert.That(ConnectResponse.InvalidControllerId, Is.EqualTo(0x10010u));
            Assert.That(ConnectResponse.InvalidSubsystemNqn, Is.EqualTo(0x10100u));
            Assert.That(ConnectResponse.InvalidHostNqn, Is.EqualTo(0x10200u));
            Assert.That(ConnectResponse.InvalidQueueId, Is.EqualTo(42u));
            Assert.That(ConnectResponse.InvalidSqSize, Is.EqualTo(44u));
        });
    }
}
