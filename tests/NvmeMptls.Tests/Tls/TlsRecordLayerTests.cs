using System.Buffers;
using System.Buffers.Binary;
using System.IO.Pipelines;
using NvmeMptls.Transport.Connections;
using NvmeMptls.Tests.Crypto;
using NvmeMptls.Transport.Tls;

namespace NvmeMptls.Tests.Tls;

public sealed class TlsRecordLayerTests
{
    [Test]
    public void KeySchedule_Rfc8448ServerApplicationSecret_GivesRfcKeyAndIv()
    {
        // RFC 8448 §3 (simple 1-RTT), {server} derive write traffic keys for application data.
        byte[] secret = Convert.FromHexString("a11af9f05531f856ad47116b45a950328204b4f44bfb6b3a4b4f1f3fcb631643");
        using var info = TlsCryptoInfo.FromTrafficSecret(0x1301, secret);
        Assert.Multiple(() =>
        {
            Assert.That(Convert.ToHexStringLower(info.Key), Is.EqualTo("9f02283b6c9c07efc26bb9f2ac92e356"));
            Assert.That(Convert.ToHexStringLower(info.Iv), Is.EqualTo("cf782b88dd83549aadf1e984"));
        });
    }

    [Test]
    public void Nonce_SequenceAdvances_IsIvXorBigEndianSequence()
    {
        using var info = TlsCryptoInfo.FromTrafficSecret(0x1301, RecordPair.ClientSecret);
        byte[] n0 = new byte[12];
        byte[] n1 = new byte[12];
        info.WriteNonce(n0);
        info.Advance();
        info.Advance();
        info.WriteNonce(n1);
        Assert.Multiple(() =>
        {
            Assert.That(n0, Is.EqualTo(info.Iv.ToArray()));
            Assert.That(info.Sequence, Is.EqualTo(2UL));
            Assert.That(n1[11], Is.EqualTo((byte)(info.Iv[11] ^ 2)));
            Assert.That(n1[..11], Is.EqualTo(info.Iv[..11].ToArray()));
        });
    }

    [TestCase((ushort)0x1301)]
    [TestCase((ushort)0x1302)]
    public async Task Record_PeerRecordsWithPadding_OpenInOrderAndReplyUsesSequenceZero(ushort suite)
    {
        var (conn, peer) = RecordPair.Create(suite: suite);
        await using var _ = conn;
        await peer.SendAsync([.. peer.Seal(TlsContentType.ApplicationData, "abc"u8), .. peer.Seal(TlsContentType.ApplicationData, "defg"u8, padding: 7)]);
        Assert.That(await HandshakeTests.ReadExactlyAsync(conn.Input, 7), Is.EqualTo("abcdefg"u8.ToArray()));
        await conn.Output.WriteAsync("reply"u8.ToArray());
        var record = await peer.ReceiveAsync();
        Assert.Multiple(() =>
        {
            Assert.That(record!.Value.Type, Is.EqualTo(TlsContentType.ApplicationData));
            Assert.That(record.Value.Content, Is.EqualTo("reply"u8.ToArray()));
            Assert.That(peer.Rx.Sequence, Is.EqualTo(1UL));
        });
    }

    [Test]
    public async Task Record_SplitIntoOneByteWrites_DecryptsAsOne()
    {
        var (conn, peer) = RecordPair.Create();
        await using var _ = conn;
        byte[] payload = HandshakeTests.RandomBytes(3000);
        foreach (byte b in peer.Seal(TlsContentType.ApplicationData, payload))
        {
            await peer.SendAsync([b]);
        }
        Assert.That(await HandshakeTests.ReadExactlyAsync(conn.Input, payload.Length), Is.EqualTo(payload));
    }

    [Test]
    public async Task Record_LargeWrite_FramedIntoRecordsOfAtMost16KiB()
    {
        var (conn, peer) = RecordPair.Create();
        await using var _ = conn;
        byte[] payload = HandshakeTests.RandomBytes(50_000);
        await conn.Output.WriteAsync(payload);
        var received = new List<byte>();
        while (received.Count < payload.Length)
        {
            var record = await peer.ReceiveAsync();
            Assert.That(record!.Value.Content, Has.Length.LessThanOrEqualTo(16384));
            received.AddRange(record.Value.Content);
        }
        Assert.That(received.ToArray(), Is.EqualTo(payload));
    }

    [Test]
    public async Task Record_BadTag_SendsBadRecordMacAndCloses()
    {
        var (conn, peer) = RecordPair.Create();
        await using var _ = conn;
        byte[] record = peer.Seal(TlsContentType.ApplicationData, "data"u8);
        record[^1] ^= 0x01;
        await peer.SendAsync(record);
        await AssertFatalAsync(conn, peer, TlsAlertDescription.BadRecordMac);
    }

    [Test]
    public async Task Record_LengthAboveCiphertextLimit_SendsRecordOverflowBeforeBody()
    {
        var (conn, peer) = RecordPair.Create();
        await using var _ = conn;
        await peer.SendAsync([23, 3, 3, 0x41, 0x01]);
        await AssertFatalAsync(conn, peer, TlsAlertDescription.RecordOverflow);
    }

    [TestCase((byte)22, TlsAlertDescription.UnexpectedMessage)]
    [TestCase((byte)20, TlsAlertDescription.UnexpectedMessage)]
    [TestCase((byte)99, TlsAlertDescription.UnexpectedMessage)]
    public async Task Record_WrongOuterContentType_SendsUnexpectedMessage(byte type, TlsAlertDescription alert)
    {
        var (conn, peer) = RecordPair.Create();
        await using var _ = conn;
        byte[] record = peer.Seal(TlsContentType.ApplicationData, "x"u8);
        record[0] = type;
        await peer.SendAsync(record);
        await AssertFatalAsync(conn, peer, alert);
    }

    [Test]
    public async Task Record_WrongLegacyVersion_SendsDecodeError()
    {
        var (conn, peer) = RecordPair.Create();
        await using var _ = conn;
        byte[] record = peer.Seal(TlsContentType.ApplicationData, "x"u8);
        record[2] = 0x01;
        await peer.SendAsync(record);
        await AssertFatalAsync(conn, peer, TlsAlertDescription.DecodeError);
    }

    [Test]
    public async Task Record_ShorterThanTag_SendsDecodeError()
    {
        var (conn, peer) = RecordPair.Create();
        await using var _ = conn;
        await peer.SendAsync([23, 3, 3, 0, 10, .. new byte[10]]);
        await AssertFatalAsync(conn, peer, TlsAlertDescription.DecodeError);
    }

    [Test]
    public async Task Record_AllZeroInnerPlaintext_SendsUnexpectedMessage()
    {
        var (conn, peer) = RecordPair.Create();
        await using var _ = conn;
        await peer.SendAsync(peer.Seal(TlsContentType.Invalid, ReadOnlySpan<byte>.Empty, padding: 4));
        await AssertFatalAsync(conn, peer, TlsAlertDescription.UnexpectedMessage);
    }

    [Test]
    public async Task Record_InnerChangeCipherSpec_SendsUnexpectedMessage()
    {
        var (conn, peer) = RecordPair.Create();
        await using var _ = conn;
        await peer.SendAsync(peer.Seal(TlsContentType.ChangeCipherSpec, [1]));
        await AssertFatalAsync(conn, peer, TlsAlertDescription.UnexpectedMessage);
    }

    [Test]
    public async Task Record_TruncatedAtEndOfStream_FailsReaderWithDecodeError()
    {
        var (conn, peer) = RecordPair.Create();
        await using var _ = conn;
        byte[] record = peer.Seal(TlsContentType.ApplicationData, "abcdef"u8);
        await peer.SendAsync(record[..^3]);
        await peer.Wire.Output.CompleteAsync();
        var ex = Assert.ThrowsAsync<TlsRecordException>(() => HandshakeTests.ReadExactlyAsync(conn.Input, 1));
        Assert.That(ex!.Alert, Is.EqualTo(TlsAlertDescription.DecodeError));
    }

    [Test]
    public async Task Record_PeerCloseNotify_CompletesReaderCleanlyAfterData()
    {
        var (conn, peer) = RecordPair.Create();
        await using var _ = conn;
        await peer.SendAsync([.. peer.Seal(TlsContentType.ApplicationData, "bye"u8), .. peer.Seal(TlsContentType.Alert, [1, 0])]);
        Assert.That(await HandshakeTests.ReadExactlyAsync(conn.Input, 3), Is.EqualTo("bye"u8.ToArray()));
        var result = await conn.Input.ReadAsync();
        Assert.That(result.IsCompleted, Is.True);
        Assert.That(conn.ReceiveError, Is.Null);
    }

    [Test]
    public async Task Record_PeerFatalAlert_FailsReaderWithThatAlert()
    {
        var (conn, peer) = RecordPair.Create();
        await using var _ = conn;
        await peer.SendAsync(peer.Seal(TlsContentType.Alert, [2, 80]));
        var ex = Assert.ThrowsAsync<TlsRecordException>(() => HandshakeTests.ReadExactlyAsync(conn.Input, 1));
        Assert.Multiple(() =>
        {
            Assert.That(ex!.Alert, Is.EqualTo(TlsAlertDescription.InternalError));
            Assert.That(ex.FromPeer, Is.True);
        });
    }

    [Test]
    public async Task Dispose_SendsCloseNotifyThenEndsStream()
    {
        var (conn, peer) = RecordPair.Create();
        await conn.DisposeAsync();
        var record = await peer.ReceiveAsync();
        Assert.That(record!.Value.Type, Is.EqualTo(TlsContentType.Alert));
        Assert.That(record.Value.Content, Is.EqualTo(new byte[] { 1, 0 }));
        Assert.That(await peer.ReceiveAsync(), Is.Null);
    }

    [Test]
    public async Task Record_PeerKeyUpdateRequested_ReadKeyUpdatedAndOwnKeyUpdateSent()
    {
        var (conn, peer) = RecordPair.Create();
        await using var _ = conn;
        await PeerKeyUpdateRoundTripAsync(conn, peer);
    }

    /// <summary>
    /// The peer sends KeyUpdate(update_requested) and data under its next key; we must read it, answer with our own
    /// KeyUpdate(update_not_requested), and send under our next key.
    /// </summary>
    private static async Task PeerKeyUpdateRoundTripAsync(TlsRecordConnection conn, RawTlsPeer peer)
    {
        await peer.SendAsync(peer.Seal(TlsContentType.Handshake, [24, 0, 0, 1, 1]));
        peer.Tx = peer.Tx.NextGeneration();
        await peer.SendAsync(peer.Seal(TlsContentType.ApplicationData, "after"u8));
        Assert.That(await HandshakeTests.ReadExactlyAsync(conn.Input, 5), Is.EqualTo("after"u8.ToArray()));
        var response = await peer.ReceiveAsync();
        Assert.That(response!.Value.Type, Is.EqualTo(TlsContentType.Handshake));
        Assert.That(response.Value.Content, Is.EqualTo(new byte[] { 24, 0, 0, 1, 0 }));
        peer.Rx = peer.Rx.NextGeneration();
        await conn.Output.WriteAsync("new key"u8.ToArray());
        Assert.That((await peer.ReceiveAsync())!.Value.Content, Is.EqualTo("new key"u8.ToArray()));
    }

    [Test]
    public async Task KeyUpdateBothWays_OpenSslEvp_EachKeyGetsAProtectorForItsOwnDirectionOnly()
    {
        Assume.That(NvmeMptls.Crypto.Aead.OpenSslGcmProtectorFactory.IsAvailable, () => NvmeMptls.Crypto.Aead.OpenSslGcmProtectorFactory.UnavailableReason!);
        // OpenSSL's one-direction protectors refuse the other direction, so a key used the wrong way fails the stream.
        var factory = new DirectionRecordingFactory(NvmeMptls.Crypto.Aead.OpenSslGcmProtectorFactory.Instance);
        var (conn, peer) = RecordPair.Create(factory: factory);
        await using var _ = conn;
        Assert.That(factory.Calls, Is.EqualTo(new[] { "seal", "open" }));
        await PeerKeyUpdateRoundTripAsync(conn, peer);
        Assert.That(factory.Calls, Is.EqualTo(new[] { "seal", "open", "open", "seal" }));
    }

    /// <summary>Passes each request on to its own direction's method of the inner factory and records which one it was.</summary>
    private sealed class DirectionRecordingFactory(IRecordProtectorFactory inner) : IRecordProtectorFactory
    {
        public List<string> Calls { get; } = [];

        public string Name => inner.Name;

        public IRecordProtector Create(ReadOnlySpan<byte> key)
        {
            Calls.Add("both");
            return inner.Create(key);
        }

        public IRecordProtector CreateSealer(ReadOnlySpan<byte> key)
        {
            Calls.Add("seal");
            return inner.CreateSealer(key);
        }

        public IRecordProtector CreateOpener(ReadOnlySpan<byte> key)
        {
            Calls.Add("open");
            return inner.CreateOpener(key);
        }
    }

    [Test]
    public async Task Record_KeyUpdateWithBadRequestValue_SendsIllegalParameter()
    {
        var (conn, peer) = RecordPair.Create();
        await using var _ = conn;
        await peer.SendAsync(peer.Seal(TlsContentType.Handshake, [24, 0, 0, 1, 7]));
        await AssertFatalAsync(conn, peer, TlsAlertDescription.IllegalParameter);
    }

    [Test]
    public async Task Record_NewSessionTicket_IgnoredAndDataFlows()
    {
        var (conn, peer) = RecordPair.Create();
        await using var _ = conn;
        await peer.SendAsync([.. peer.Seal(TlsContentType.Handshake, [4, 0, 0, 3, 9, 9, 9]), .. peer.Seal(TlsContentType.ApplicationData, "ok"u8)]);
        Assert.That(await HandshakeTests.ReadExactlyAsync(conn.Input, 2), Is.EqualTo("ok"u8.ToArray()));
    }

    [Test]
    public async Task Record_NewSessionTicketFromTheClient_ServerSendsUnexpectedMessage()
    {
        // RFC 8446 §4.6.1: only servers send NewSessionTicket; the server answers one with unexpected_message.
        var (conn, peer) = RecordPair.Create(isServer: true);
        await using var _ = conn;
        await peer.SendAsync([.. peer.Seal(TlsContentType.Handshake, [4, 0, 0, 3, 9, 9, 9]), .. peer.Seal(TlsContentType.ApplicationData, "ok"u8)]);
        await AssertFatalAsync(conn, peer, TlsAlertDescription.UnexpectedMessage);
    }

    [Test]
    public async Task Record_KeyUpdateFragmentedOverTwoRecords_HonouredAtTheSecondRecordsEnd()
    {
        // RFC 8446 §5.1: handshake messages may be fragmented across records.
        var (conn, peer) = RecordPair.Create();
        await using var _ = conn;
        await peer.SendAsync([.. peer.Seal(TlsContentType.Handshake, [24, 0]), .. peer.Seal(TlsContentType.Handshake, [0, 1, 0])]);
        peer.Tx = peer.Tx.NextGeneration();
        await peer.SendAsync(peer.Seal(TlsContentType.ApplicationData, "under the next key"u8));
        Assert.That(await HandshakeTests.ReadExactlyAsync(conn.Input, 18), Is.EqualTo("under the next key"u8.ToArray()));
        Assert.That(conn.KeyUpdatesReceived, Is.EqualTo(1));
    }

    [Test]
    public async Task Record_NewSessionTicketInThreeFragmentsThenKeyUpdate_ReassembledAndDataFlows()
    {
        var (conn, peer) = RecordPair.Create();
        await using var _ = conn;
        byte[] ticket = [4, 0, 0x03, 0xe8, .. HandshakeTests.RandomBytes(1000)];
        await peer.SendAsync([
            .. peer.Seal(TlsContentType.Handshake, ticket.AsSpan(0, 3)),
            .. peer.Seal(TlsContentType.Handshake, ticket.AsSpan(3, 600)),
            .. peer.Seal(TlsContentType.Handshake, [.. ticket.AsSpan(603), 24, 0, 0, 1, 0])]);
        peer.Tx = peer.Tx.NextGeneration();
        await peer.SendAsync(peer.Seal(TlsContentType.ApplicationData, "ok"u8));
        Assert.That(await HandshakeTests.ReadExactlyAsync(conn.Input, 2), Is.EqualTo("ok"u8.ToArray()));
    }

    [Test]
    public async Task Record_KeyUpdateNotAtRecordEnd_SendsUnexpectedMessage()
    {
        // RFC 8446 §5.1: a message that precedes a key change MUST end its record.
        var (conn, peer) = RecordPair.Create();
        await using var _ = conn;
        await peer.SendAsync(peer.Seal(TlsContentType.Handshake, [24, 0, 0, 1, 0, 4, 0, 0, 0]));
        await AssertFatalAsync(conn, peer, TlsAlertDescription.UnexpectedMessage);
    }

    [Test]
    public async Task Record_ApplicationDataInsideFragmentedHandshakeMessage_SendsUnexpectedMessage()
    {
        var (conn, peer) = RecordPair.Create();
        await using var _ = conn;
        await peer.SendAsync([.. peer.Seal(TlsContentType.Handshake, [4, 0, 0, 9, 1]), .. peer.Seal(TlsContentType.ApplicationData, "x"u8)]);
        await AssertFatalAsync(conn, peer, TlsAlertDescription.UnexpectedMessage);
    }

    [Test]
    public async Task Record_ZeroLengthHandshakeRecord_SendsUnexpectedMessage()
    {
        var (conn, peer) = RecordPair.Create();
        await using var _ = conn;
        await peer.SendAsync(peer.Seal(TlsContentType.Handshake, []));
        await AssertFatalAsync(conn, peer, TlsAlertDescription.UnexpectedMessage);
    }

    [Test]
    public async Task Record_PostHandshakeMessageLongerThanTheLimit_RefusedBeforeBuffering()
    {
        var (conn, peer) = RecordPair.Create();
        await using var _ = conn;
        int length = TlsRecordConnection.MaxPostHandshakeMessage;
        await peer.SendAsync(peer.Seal(TlsContentType.Handshake, [4, (byte)(length >> 16), (byte)(length >> 8), (byte)length, 0]));
        await AssertFatalAsync(conn, peer, TlsAlertDescription.UnexpectedMessage);
    }

    [Test]
    public async Task SendKeyUpdatePolicy_LimitReached_SendsKeyUpdateAndSwitchesWriteKey()
    {
        var options = new TlsRecordLayerOptions { KeyLimitPolicy = TlsKeyLimitPolicy.SendKeyUpdate, KeyLimitRecords = 2, MaxPlaintextPerRecord = 4 };
        var (conn, peer) = RecordPair.Create(options);
        await using var _ = conn;
        await conn.Output.WriteAsync("aaaabbbbcccc"u8.ToArray());
        Assert.That((await peer.ReceiveAsync())!.Value.Content, Is.EqualTo("aaaa"u8.ToArray()));
        Assert.That((await peer.ReceiveAsync())!.Value.Content, Is.EqualTo("bbbb"u8.ToArray()));
        var update = await peer.ReceiveAsync();
        Assert.That(update!.Value.Content, Is.EqualTo(new byte[] { 24, 0, 0, 1, 0 }));
        peer.Rx = peer.Rx.NextGeneration();
        Assert.That((await peer.ReceiveAsync())!.Value.Content, Is.EqualTo("cccc"u8.ToArray()));
    }

    [Test]
    public async Task ReconnectPolicy_LimitReached_RaisesEventOnceAndKeepsKey()
    {
        var options = new TlsRecordLayerOptions { KeyLimitRecords = 2, MaxPlaintextPerRecord = 4 };
        var (conn, peer) = RecordPair.Create(options);
        await using var _ = conn;
        int raised = 0;
        conn.KeyLimitApproaching += _ => Interlocked.Increment(ref raised);
        await conn.Output.WriteAsync("aaaabbbbccccdddd"u8.ToArray());
        for (int i = 0; i < 4; i++)
        {
            Assert.That((await peer.ReceiveAsync())!.Value.Type, Is.EqualTo(TlsContentType.ApplicationData));
        }
        Assert.Multiple(() =>
        {
            Assert.That(raised, Is.EqualTo(1));
            Assert.That(conn.KeyLimitReached, Is.True);
        });
    }

    [Test]
    public async Task DefaultRecords_AreSixteenKiBOnTheWire_AndFourFillOneSendSegment()
    {
        // Records of the largest plaintext (16406 bytes on the wire) left a quarter of every 64 KiB send segment empty:
        // three fit, and each segment is one send. The default plaintext makes a full record exactly 16 KiB.
        var (a, b) = MemoryConnection.CreatePair(new PipeOptions(pool: MemoryPool<byte>.Shared, minimumSegmentSize: 64 * 1024,
            pauseWriterThreshold: 1 << 20, resumeWriterThreshold: 1 << 19, useSynchronizationContext: false));
        var session = new TlsSessionInfo("id", null, null, 0x1301, TlsCryptoInfo.SuiteName(0x1301), "", "");
        await using var conn = new TlsRecordConnection(a, TlsCryptoInfo.FromTrafficSecret(0x1301, RecordPair.ServerSecret),
            TlsCryptoInfo.FromTrafficSecret(0x1301, RecordPair.ClientSecret), session);
        var plaintext = new byte[4 * TlsRecordLayerOptions.SegmentFittingPlaintext + 100];
        new Random(7).NextBytes(plaintext);

        await conn.Output.WriteAsync(plaintext);

        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        ReadResult wire = await b.Input.ReadAsync(timeout.Token);
        while (wire.Buffer.Length < 4 * 16384 + 5 + 100 + 17)
        {
            b.Input.AdvanceTo(wire.Buffer.Start, wire.Buffer.End);
            wire = await b.Input.ReadAsync(timeout.Token);
        }
        ReadOnlySequence<byte> records = wire.Buffer;
        var lengths = new List<int>();
        for (long at = 0; at < records.Length;)
        {
            byte[] header = records.Slice(at, 5).ToArray();
            int length = BinaryPrimitives.ReadUInt16BigEndian(header.AsSpan(3));
            lengths.Add(length);
            at += 5 + length;
        }
        Assert.Multiple(() =>
        {
            Assert.That(TlsRecordLayerOptions.SegmentFittingPlaintext, Is.EqualTo(16362));
            Assert.That(lengths, Is.EqualTo(new[] { 16379, 16379, 16379, 16379, 100 + 17 }), "TLSCiphertext.length of each record");
            Assert.That(records.First.Length, Is.EqualTo(64 * 1024), "the first segment holds four whole records and nothing else");
        });
        b.Input.AdvanceTo(records.Start);

        // And they open to the plaintext, in order.
        await using var peer = new RawTlsPeer(b, TlsCryptoInfo.FromTrafficSecret(0x1301, RecordPair.ClientSecret),
            TlsCryptoInfo.FromTrafficSecret(0x1301, RecordPair.ServerSecret));
        var opened = new List<byte>();
        for (int i = 0; i < 5; i++)
        {
            var record = (await peer.ReceiveAsync())!.Value;
            Assert.That(record.Type, Is.EqualTo(TlsContentType.ApplicationData));
            opened.AddRange(record.Content);
        }
        Assert.That(opened, Is.EqualTo(plaintext));
    }

    [Test]
    public void Options_KeyLimitAboveAesGcmLimit_Rejected() =>
        Assert.Throws<ArgumentOutOfRangeException>(() => new TlsRecordLayerOptions { KeyLimitRecords = 1L << 25 }.Validate());

    [Test]
    public async Task InnerAbortedWithTimeout_ReaderGetsTheReason_AndDisposeDoesNotThrow()
    {
        // The initiator aborts a queue's connection with TimeoutException when a command is overdue. The record layer's
        // receive loop once let that escape, so its DisposeAsync threw, and the controller's recovery stopped for good.
        var (a, b) = NvmeMptls.Transport.Connections.MemoryConnection.CreatePair();
        var session = new TlsSessionInfo("id", null, null, 0x1301, TlsCryptoInfo.SuiteName(0x1301), "", "");
        var conn = new TlsRecordConnection(a, TlsCryptoInfo.FromTrafficSecret(0x1301, RecordPair.ServerSecret),
            TlsCryptoInfo.FromTrafficSecret(0x1301, RecordPair.ClientSecret), session);
        await using var carrier = a;

        // The carrier's input ends with the abort reason, as a SocketConnection's does after Abort(reason).
        b.Abort(new TimeoutException("command 7 (opcode 0x02) on queue 1 timed out"));

        var ex = Assert.ThrowsAsync<TimeoutException>(() => HandshakeTests.ReadExactlyAsync(conn.Input, 1));
        Assert.That(ex!.Message, Does.Contain("timed out"));
        Assert.DoesNotThrowAsync(async () => await conn.DisposeAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(10)));
    }

    /// <summary>The connection must fail its reader, send exactly this fatal alert, and end the stream.</summary>
    private static async Task AssertFatalAsync(TlsRecordConnection conn, RawTlsPeer peer, TlsAlertDescription alert)
    {
        var ex = Assert.ThrowsAsync<TlsRecordException>(() => HandshakeTests.ReadExactlyAsync(conn.Input, 1));
        var record = await peer.ReceiveAsync();
        Assert.Multiple(() =>
        {
            Assert.That(ex!.Alert, Is.EqualTo(alert));
            Assert.That(record!.Value.Type, Is.EqualTo(TlsContentType.Alert));
            Assert.That(record.Value.Content, Is.EqualTo(new byte[] { 2, (byte)alert }));
        });
        Assert.That(await peer.ReceiveAsync(), Is.Null, "stream must end after the fatal alert");
    }
}
