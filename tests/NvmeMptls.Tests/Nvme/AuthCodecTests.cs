using NvmeMptls.Transport.Nvme;
using NvmeMptls.Transport.Nvme.Auth;

namespace NvmeMptls.Tests.Nvme;

/// <summary>
/// AUTH_Send/AUTH_Receive SQE fields and the DH-HMAC-CHAP messages, byte for byte against reference §2.8 and §5
/// (the layouts of the kernel's <c>struct nvmf_auth_*</c> in include/linux/nvme.h).
/// </summary>
public sealed class AuthCodecTests
{
    private static byte[] Hex(string hex) => Convert.FromHexString(hex.Replace(" ", "", StringComparison.Ordinal));

    private static byte[] Bytes(int length, byte start)
    {
        var bytes = new byte[length];
        for (int i = 0; i < length; i++)
        {
            bytes[i] = (byte)(start + i);
        }
        return bytes;
    }

    [Test]
    public void AuthSend_WritesByteExactSqe()
    {
        var sqe = new byte[NvmeCommand.Size];
        new AuthCommand(IsSend: true, Length: 72).ToCommand().Write(sqe);

        var expected = new byte[NvmeCommand.Size];
        expected[0] = 0x7F;
        expected[4] = 0x05;
        Hex("00 01 01 E9 48 00 00 00").CopyTo(expected, 40);
        Assert.That(sqe, Is.EqualTo(expected));
    }

    [Test]
    public void AuthReceive_RoundTripsAndChecksFields()
    {
        var sqe = new byte[NvmeCommand.Size];
        new AuthCommand(IsSend: false, Length: 0x1234).ToCommand().Write(sqe);
        var command = NvmeCommand.Read(sqe);
        var read = AuthCommand.Read(command);
        Assert.Multiple(() =>
        {
            Assert.That(sqe[4], Is.EqualTo(0x06));
            Assert.That(AuthCommand.IsAuthCommand(command), Is.True);
            Assert.That(read, Is.EqualTo(new AuthCommand(false, 0x1234)));
            Assert.That(read.InvalidFieldOffset(), Is.EqualTo(-1));
            Assert.That((read with { SecurityProtocol = 0xEA }).InvalidFieldOffset(), Is.EqualTo(43));
            Assert.That((read with { Spsp0 = 0 }).InvalidFieldOffset(), Is.EqualTo(41));
            Assert.That((read with { Spsp1 = 2 }).InvalidFieldOffset(), Is.EqualTo(42));
            Assert.That((read with { Length = 0 }).InvalidFieldOffset(), Is.EqualTo(44));
        });
    }

    [Test]
    public void Negotiate_OfferAll_IsByteExact()
    {
        var data = new byte[NegotiateMessage.Size];
        Assert.That(NegotiateMessage.OfferAll(0x1234).Write(data), Is.EqualTo(72));

        var expected = new byte[72];
        Hex("00 00 00 00 34 12 00 01  01 00 03 06 01 02 03").CopyTo(expected, 0);
        Hex("00 01 02 03 04 05").CopyTo(expected, 8 + 34);
        Assert.That(data, Is.EqualTo(expected));

        Assert.That(NegotiateMessage.TryRead(data, out var read, out _), Is.True);
        Assert.Multiple(() =>
        {
            Assert.That(read!.TransactionId, Is.EqualTo(0x1234));
            Assert.That(read.Hashes, Is.EqualTo(new[] { DhChapHashId.Sha256, DhChapHashId.Sha384, DhChapHashId.Sha512 }));
            Assert.That(read.Groups, Has.Count.EqualTo(6));
        });
    }

    [TestCase(71, 1, 1, 3, AuthFailureReason.IncorrectPayload)]
    [TestCase(72, 2, 1, 3, AuthFailureReason.HashUnusable)]
    [TestCase(72, 1, 2, 3, AuthFailureReason.IncorrectPayload)]
    [TestCase(72, 1, 1, 31, AuthFailureReason.IncorrectPayload)]
    public void Negotiate_Malformed_GivesKernelReason(int length, byte napd, byte authId, byte halen, AuthFailureReason reason)
    {
        var data = new byte[72];
        NegotiateMessage.OfferAll(1).Write(data);
        data[NegotiateMessage.DescriptorCountOffset] = napd;
        data[NegotiateMessage.AuthIdOffset] = authId;
        data[NegotiateMessage.HashCountOffset] = halen;
        Assert.That(NegotiateMessage.TryRead(data.AsSpan(0, length), out var message, out var actual), Is.False);
        Assert.That(message, Is.Null);
        Assert.That(actual, Is.EqualTo(reason));
    }

    [Test]
    public void Challenge_WithDhValue_IsByteExact()
    {
        var message = new ChallengeMessage(0xBEEF, DhChapHashId.Sha256, DhChapGroupId.Ffdhe2048, 0x01020304, Bytes(32, 0x80), Bytes(4, 0xA0));
        var data = new byte[message.Size];
        Assert.That(message.Write(data), Is.EqualTo(16 + 32 + 4));
        Assert.That(data.AsSpan(0, 16).ToArray(), Is.EqualTo(Hex("01 01 00 00 EF BE 20 00  01 01 04 00 04 03 02 01")));
        Assert.That(data.AsSpan(16, 32).ToArray(), Is.EqualTo(Bytes(32, 0x80)));
        Assert.That(data.AsSpan(48).ToArray(), Is.EqualTo(Hex("A0 A1 A2 A3")));

        Assert.That(ChallengeMessage.TryRead(data, out var read), Is.True);
        Assert.Multiple(() =>
        {
            Assert.That(read!.Sequence, Is.EqualTo(0x01020304));
            Assert.That(read.Challenge.ToArray(), Is.EqualTo(Bytes(32, 0x80)));
            Assert.That(read.DhValue.ToArray(), Is.EqualTo(Hex("A0 A1 A2 A3")));
            Assert.That(ChallengeMessage.TryRead(data.AsSpan(0, data.Length - 1), out _), Is.False, "DHVLEN beyond the data");
        });
    }

    [Test]
    public void Reply_Bidirectional_IsByteExact()
    {
        var message = new ReplyMessage(0x0102, 7, Bytes(48, 0x10), true, Bytes(48, 0x60), Bytes(2, 0xF0));
        var data = new byte[message.Size];
        Assert.That(message.Write(data), Is.EqualTo(16 + 96 + 2));
        Assert.That(data.AsSpan(0, 16).ToArray(), Is.EqualTo(Hex("01 02 00 00 02 01 30 00  01 00 02 00 07 00 00 00")));
        Assert.That(data.AsSpan(16, 48).ToArray(), Is.EqualTo(Bytes(48, 0x10)));
        Assert.That(data.AsSpan(64, 48).ToArray(), Is.EqualTo(Bytes(48, 0x60)));
        Assert.That(data.AsSpan(112).ToArray(), Is.EqualTo(Hex("F0 F1")));

        Assert.That(ReplyMessage.TryRead(data, out var read), Is.True);
        Assert.Multiple(() =>
        {
            Assert.That(read!.ChallengeValid, Is.True);
            Assert.That(read.Response.ToArray(), Is.EqualTo(Bytes(48, 0x10)));
            Assert.That(read.Challenge.ToArray(), Is.EqualTo(Bytes(48, 0x60)));
            Assert.That(ReplyMessage.TryRead(data.AsSpan(0, 100), out _), Is.False, "2·HL beyond the data");
        });
    }

    [Test]
    public void Reply_Unidirectional_ZeroesC2()
    {
        var message = new ReplyMessage(1, 0, Bytes(32, 1), false, ReadOnlyMemory<byte>.Empty, ReadOnlyMemory<byte>.Empty);
        var data = Enumerable.Repeat((byte)0xAA, message.Size).ToArray();
        message.Write(data);
        Assert.That(data.AsSpan(8, 1)[0], Is.Zero);
        Assert.That(data.AsSpan(48, 32).ToArray(), Is.EqualTo(new byte[32]));
    }

    [Test]
    public void Success1_WithAndWithoutResponse_IsByteExact()
    {
        var with = new Success1Message(0x0A0B, 32, Bytes(32, 0x40));
        var data = new byte[with.Size];
        with.Write(data);
        Assert.That(data.AsSpan(0, 16).ToArray(), Is.EqualTo(Hex("01 03 00 00 0B 0A 20 00  01 00 00 00 00 00 00 00")));
        Assert.That(data.AsSpan(16).ToArray(), Is.EqualTo(Bytes(32, 0x40)));

        var without = new Success1Message(0x0A0B, 32, ReadOnlyMemory<byte>.Empty);
        var data2 = new byte[without.Size];
        without.Write(data2);
        Assert.Multiple(() =>
        {
            Assert.That(data2[8], Is.Zero);
            Assert.That(Success1Message.TryRead(data, out var read) && read!.Response.ToArray().SequenceEqual(Bytes(32, 0x40)), Is.True);
            Assert.That(Success1Message.TryRead(data2.AsSpan(0, 16), out var read2) && !read2!.ResponseValid, Is.True);
        });
    }

    [Test]
    public void Success2_IsByteExact()
    {
        var data = new byte[Success2Message.Size];
        new Success2Message(0x5555).Write(data);
        Assert.That(data, Is.EqualTo(Hex("01 04 00 00 55 55 00 00  00 00 00 00 00 00 00 00")));
    }

    [Test]
    public void Failure1_IsByteExact_AndBothAuthTypesRead()
    {
        var data = new byte[FailureMessage.Size];
        new FailureMessage(AuthMessageId.Failure1, 0x0201, AuthFailureReason.IncorrectMessage).Write(data);
        Assert.That(data, Is.EqualTo(Hex("00 F1 00 00 01 02 01 07")));

        var older = Hex("01 F0 00 00 01 02 01 01");
        Assert.Multiple(() =>
        {
            Assert.That(FailureMessage.TryRead(data, out var f1), Is.True);
            Assert.That(f1.Reason, Is.EqualTo(AuthFailureReason.IncorrectMessage));
            Assert.That(FailureMessage.TryRead(older, out var f2), Is.True);
            Assert.That(f2.Id, Is.EqualTo(AuthMessageId.Failure2));
            Assert.That(FailureMessage.TryRead(Hex("01 03 00 00 01 02 01 01"), out _), Is.False, "Success1 is no failure");
        });
    }
}
