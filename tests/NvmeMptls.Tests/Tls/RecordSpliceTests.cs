using NvmeMptls.Crypto.Aead;
using NvmeMptls.Tests.Crypto;
using NvmeMptls.Transport.Connections;
using NvmeMptls.Transport.Tls;

namespace NvmeMptls.Tests.Tls;

/// <summary>
/// Spliced output on the user-space record layer: memory handed to <see cref="TlsRecordConnection.SpliceOutput"/> is
/// sealed from where it lies, in stream order between the bytes written around it, in records no larger than the
/// limit, and the caller is told once that it may reuse the memory.
/// </summary>
public sealed class RecordSpliceTests
{
    private sealed class Completions : IOutputSpliceCompletion
    {
        public readonly List<(object? Token, bool Sent)> Calls = [];

        public void OnSpliceCompleted(object? token, bool sent) => Calls.Add((token, sent));
    }

    private static IRecordProtectorFactory Factory(string provider)
    {
        Assume.That(provider != "openssl-evp" || OpenSslGcmProtectorFactory.IsAvailable, () => OpenSslGcmProtectorFactory.UnavailableReason!);
        return provider switch
        {
            "openssl-evp" => OpenSslGcmProtectorFactory.Instance,
            "bouncycastle" => BouncyCastleGcmProtectorFactory.Instance,
            _ => AesGcmRecordProtectorFactory.Instance,
        };
    }

    [TestCase("openssl-evp", 24, 131072)]
    [TestCase("openssl-evp", 0, 40000)]
    [TestCase("openssl-evp", 16383, 5)]
    [TestCase("openssl-evp", 16384, 16384)]
    [TestCase("dotnet-aesgcm", 24, 131072)]
    [TestCase("bouncycastle", 100, 33000)]
    public async Task Splice_BetweenWrites_PeerOpensTheSameStreamInBoundedRecords(string provider, int before, int spliced)
    {
        var (conn, peer) = RecordPair.Create(factory: Factory(provider));
        await using var _ = conn;
        byte[] head = HandshakeTests.RandomBytes(before), data = HandshakeTests.RandomBytes(spliced), tail = HandshakeTests.RandomBytes(4);
        byte[] original = (byte[])data.Clone();
        var completions = new Completions();

        if (before > 0)
        {
            head.CopyTo(conn.Output.GetSpan(before));
            conn.Output.Advance(before);
        } // else the splice is the burst's first call: it takes the write lock itself, and the flush releases it
        conn.SpliceOutput(new ArraySegment<byte>(data), completions, "read 1");
        Assert.That(completions.Calls, Is.EqualTo(new[] { ((object?)"read 1", true) }), "told once, before the call returns");
        Assert.That(data, Is.EqualTo(original), "the source is read, never written");
        data.AsSpan().Clear(); // the caller may reuse it now: nothing may be read from it later
        await conn.Output.WriteAsync(tail);

        byte[] expected = [.. head, .. original, .. tail];
        var received = new List<byte>();
        while (received.Count < expected.Length)
        {
            var record = (await peer.ReceiveAsync())!.Value;
            Assert.That(record.Type, Is.EqualTo(TlsContentType.ApplicationData));
            Assert.That(record.Content.Length, Is.InRange(1, TlsRecordLimits.MaxPlaintext));
            received.AddRange(record.Content);
        }
        Assert.That(received.ToArray(), Is.EqualTo(expected));
        Assert.That((conn.Tls.SealProvider, conn.Tls.OpenProvider), Is.EqualTo((provider, provider)));
        Assert.That(conn.RecordsSealed, Is.LessThanOrEqualTo((expected.Length + TlsRecordLimits.MaxPlaintext - 1) / TlsRecordLimits.MaxPlaintext + 2),
            "records are filled, not one per piece");
    }

    [Test]
    public async Task Splice_KeyUpdateDue_KeyUpdateGoesBetweenWholeRecordsAndTheStreamStaysInOrder()
    {
        var options = TlsRecordLayerOptions.Default with { KeyLimitPolicy = TlsKeyLimitPolicy.SendKeyUpdate, KeyLimitRecords = 3 };
        var (conn, peer) = RecordPair.Create(options, Factory("openssl-evp"));
        await using var _ = conn;
        byte[] data = HandshakeTests.RandomBytes(100_000);
        var completions = new Completions();
        conn.SpliceOutput(new ArraySegment<byte>(data), completions, null);
        await conn.Output.FlushAsync();
        Assert.That(completions.Calls, Is.EqualTo(new[] { ((object?)null, true) }));

        var received = new List<byte>();
        int keyUpdates = 0;
        while (received.Count < data.Length)
        {
            var record = (await peer.ReceiveAsync())!.Value;
            if (record.Type == TlsContentType.Handshake)
            {
                keyUpdates++;
                peer.Rx = peer.Rx.NextGeneration(); // RFC 8446 §4.6.3: the records after it are under the next key
                continue;
            }
            received.AddRange(record.Content);
        }
        Assert.That(received.ToArray(), Is.EqualTo(data));
        Assert.That(keyUpdates, Is.EqualTo(conn.KeyUpdatesSent).And.GreaterThanOrEqualTo(2));
    }

    [Test]
    public async Task Splice_AfterTheOutputCompleted_NothingSentAndToldNotSent()
    {
        var (conn, peer) = RecordPair.Create(factory: Factory("openssl-evp"));
        await using var _ = conn;
        await conn.Output.CompleteAsync();
        var completions = new Completions();
        conn.SpliceOutput(new ArraySegment<byte>(new byte[50000]), completions, 7);
        Assert.That(completions.Calls, Is.EqualTo(new[] { ((object?)7, false) }));
        var alert = (await peer.ReceiveAsync())!.Value;
        Assert.That(alert.Type, Is.EqualTo(TlsContentType.Alert), "close_notify is the only record");
        Assert.That(await peer.ReceiveAsync(), Is.Null);
    }

    [TestCase(0, 100, 101)]
    [TestCase(24, 16360, 16385)]
    [TestCase(7, 0, 8)]
    public void SealFrom_OpenSsl_SameBytesAsCopyingThenSealingInPlace(int at, int sourceLength, int recordLength)
    {
        byte[] key = HandshakeTests.RandomBytes(16), nonce = HandshakeTests.RandomBytes(12), aad = [23, 3, 3, 64, 17];
        byte[] record = HandshakeTests.RandomBytes(recordLength), source = HandshakeTests.RandomBytes(sourceLength);
        byte[] copied = (byte[])record.Clone(), tagA = new byte[16], tagB = new byte[16];
        source.CopyTo(copied, at);
        Factory("openssl-evp");
        using var evp = OpenSslGcmProtector.Create(key);
        using var net = new AesGcmRecordProtector(key);
        evp.SealFrom(nonce, record, at, source, tagA, aad);
        net.Seal(nonce, copied, tagB, aad);
        Assert.Multiple(() =>
        {
            Assert.That(record, Is.EqualTo(copied));
            Assert.That(tagA, Is.EqualTo(tagB));
        });
        Assert.That(() => evp.SealFrom(nonce, record, recordLength - sourceLength + 1, source, tagA, aad), Throws.InstanceOf<ArgumentOutOfRangeException>());

        // A source that already lies at its own place in the record is sealed in place; one that lies elsewhere in the
        // record would be read after the bytes before it were encrypted, and is refused.
        byte[] inPlace = HandshakeTests.RandomBytes(recordLength), expected = (byte[])inPlace.Clone(), tagC = new byte[16];
        net.Seal(nonce, expected, tagB, aad);
        evp.SealFrom(nonce, inPlace, at, inPlace.AsSpan(at, sourceLength), tagC, aad);
        Assert.That((inPlace, tagC), Is.EqualTo((expected, tagB)));
        if (sourceLength > 0 && at + sourceLength < recordLength)
        {
            Assert.That(() => evp.SealFrom(nonce, inPlace, at, inPlace.AsSpan(at + 1, sourceLength), tagC, aad),
                Throws.ArgumentException.With.Message.Contains("overlaps"));
        }
    }
}
