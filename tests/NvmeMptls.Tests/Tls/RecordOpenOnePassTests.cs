using NvmeMptls.Tests.Crypto;
using NvmeMptls.Transport.Tls;

namespace NvmeMptls.Tests.Tls;

/// <summary>
/// The receive side opens each record from the receive buffer straight into the plaintext pipe (one pass), or, for a
/// record lying across two receive segments, copies it there once and opens it in place: several records in one
/// segment, records across segments, and tampered records in either case (bad_record_mac, and none of the tampered
/// record's bytes reach the reader).
/// </summary>
public sealed class RecordOpenOnePassTests
{
    [Test]
    public async Task ManySmallRecordsInOneSegment_EachOpenedInOnePass_DataInOrder()
    {
        var (conn, peer) = RecordPair.Create();
        await using var _ = conn;
        var payloads = Enumerable.Range(0, 40).Select(i => HandshakeTests.RandomBytes(1 + (i * 37 % 90))).ToArray();
        var wire = payloads.SelectMany((p, i) => peer.Seal(TlsContentType.ApplicationData, p, padding: i % 3)).ToArray();
        await peer.SendAsync(wire); // one write: the records lie side by side in one receive segment
        var expected = payloads.SelectMany(p => p).ToArray();
        Assert.That(await HandshakeTests.ReadExactlyAsync(conn.Input, expected.Length), Is.EqualTo(expected));
        Assert.Multiple(() =>
        {
            Assert.That(conn.RecordsOpened, Is.EqualTo(40));
            Assert.That(conn.RecordsOpenedAcrossSegments, Is.Zero, "no record of a single small write lies across segments");
        });
    }

    [Test]
    public async Task FullRecordsAcrossSegments_OpenedAfterOneCopy_DataInOrder()
    {
        var (conn, peer) = RecordPair.Create();
        await using var _ = conn;
        var payloads = Enumerable.Range(0, 6).Select(i => HandshakeTests.RandomBytes(16384 - (i * 1000))).ToArray();
        // The pipe under the record layer takes 4 KiB segments: a 16 KiB record written at once spans several.
        foreach (var p in payloads)
        {
            var record = peer.Seal(TlsContentType.ApplicationData, p);
            await peer.SendAsync(record[..7]);
            await peer.SendAsync(record[7..]);
        }

        var expected = payloads.SelectMany(p => p).ToArray();
        Assert.That(await HandshakeTests.ReadExactlyAsync(conn.Input, expected.Length), Is.EqualTo(expected));
        Assert.That(conn.RecordsOpenedAcrossSegments, Is.GreaterThan(0), "this test exercises the split path");
    }

    [TestCase(10, false)]
    [TestCase(10, true)]
    [TestCase(12000, false)]
    [TestCase(12000, true)]
    public async Task TamperedRecordAfterAGoodOne_BadRecordMac_AndNoneOfItsBytesReachTheReader(int size, bool tamperTag)
    {
        var (conn, peer) = RecordPair.Create();
        await using var _ = conn;
        var good = HandshakeTests.RandomBytes(size);
        var goodRecord = peer.Seal(TlsContentType.ApplicationData, good); // sequence 0, then the tampered one is 1
        var bad = peer.Seal(TlsContentType.ApplicationData, HandshakeTests.RandomBytes(size));
        bad[tamperTag ? bad.Length - 3 : 5 + (size / 2)] ^= 0x40;
        // Two writes: a fatal error fails the reader at once, dropping plaintext of the same receive not yet flushed.
        await peer.SendAsync(goodRecord);
        Assert.That(await HandshakeTests.ReadExactlyAsync(conn.Input, good.Length), Is.EqualTo(good), "the good record's data");
        await peer.SendAsync(bad);
        var ex = Assert.ThrowsAsync<TlsRecordException>(() => HandshakeTests.ReadExactlyAsync(conn.Input, 1), "nothing of the tampered record");
        Assert.That(ex!.Alert, Is.EqualTo(TlsAlertDescription.BadRecordMac));
        var alert = await peer.ReceiveAsync();
        Assert.That(alert!.Value.Content, Is.EqualTo(new byte[] { 2, (byte)TlsAlertDescription.BadRecordMac }), "fatal bad_record_mac sent");
    }
}
