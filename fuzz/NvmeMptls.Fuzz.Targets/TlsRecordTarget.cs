using System.Buffers.Binary;
using System.Security.Cryptography;
using NvmeMptls.Transport.Connections;
using NvmeMptls.Transport.Tls;

namespace NvmeMptls.Fuzz;

/// <summary>
/// The TLS record layer's receive path after the handshake, keys set. Input byte 0: bit 0 = server side, bit 1 =
/// "sealed" mode. Raw mode sends the rest as it is (headers, lengths, alerts, bad tags). Sealed mode reads the rest
/// as records <c>inner-type(1) length(2) content</c> and protects each with the peer's key before sending, so the
/// fuzzer reaches what follows decryption: padding, inner types, alerts, KeyUpdate (the sealer follows it),
/// NewSessionTicket, fragmented handshake messages. Errors must surface as <see cref="TlsRecordException"/> or
/// <see cref="IOException"/> on the plaintext reader, never escape the receive loop.
/// </summary>
public static class TlsRecordTarget
{
    public const ushort Suite = 0x1301; // TLS_AES_128_GCM_SHA256

    private static readonly byte[] s_clientSecret = Enumerable.Range(1, 32).Select(i => (byte)i).ToArray();
    private static readonly byte[] s_serverSecret = Enumerable.Range(101, 32).Select(i => (byte)i).ToArray();

    public static void Run(byte[] input)
    {
        if (input.Length == 0)
        {
            return;
        }

        var isServer = (input[0] & 1) != 0;
        var wire = (input[0] & 2) != 0 ? Seal(input.AsSpan(1), isServer ? s_clientSecret : s_serverSecret) : input[1..];
        FuzzTargets.Await(ReceiveAsync(wire, isServer), "TLS record layer");
    }

    private static async Task ReceiveAsync(byte[] wire, bool isServer)
    {
        var (peer, inner) = MemoryConnection.CreatePair();
        await using var peerScope = peer.ConfigureAwait(false);
        var tx = TlsCryptoInfo.FromTrafficSecret(Suite, isServer ? s_serverSecret : s_clientSecret);
        var rx = TlsCryptoInfo.FromTrafficSecret(Suite, isServer ? s_clientSecret : s_serverSecret);
        var session = new TlsSessionInfo("fuzz", null, null, Suite, TlsCryptoInfo.SuiteName(Suite), "", "");
        var tls = new TlsRecordConnection(inner, tx, rx, session, isServer: isServer);
        await using (tls.ConfigureAwait(false))
        {
            var drain = PipeDrain.ToEndAsync(peer.Input);
            await peer.Output.WriteAsync(wire).ConfigureAwait(false);
            await peer.Output.CompleteAsync().ConfigureAwait(false);
            var read = PipeDrain.ToEndAsync(tls.Input); // TlsRecordException or a truncation ends it as an IOException
            if (await Task.WhenAny(read, tls.Completion).ConfigureAwait(false) != read)
            {
                await tls.Completion.ConfigureAwait(false); // a receive or send loop that ended by itself: surface its fault
            }

            await read.ConfigureAwait(false);
            await tls.DisposeAsync().ConfigureAwait(false);
            await tls.Completion.ConfigureAwait(false);
            await drain.ConfigureAwait(false);
        }
    }


    /// <summary>Protects each <c>type length content</c> item as a TLS 1.3 record (RFC 8446 §5.2) under the peer's key.</summary>
    private static byte[] Seal(ReadOnlySpan<byte> items, byte[] secret)
    {
        var output = new List<byte>();
        var state = TlsCryptoInfo.FromTrafficSecret(Suite, secret);
        Span<byte> nonce = stackalloc byte[TlsRecordLimits.NonceLength];
        Span<byte> tag = stackalloc byte[TlsRecordLimits.TagLength];
        Span<byte> header = stackalloc byte[TlsRecordLimits.HeaderLength];
        while (items.Length >= 3)
        {
            var type = items[0];
            var length = Math.Min(BinaryPrimitives.ReadUInt16BigEndian(items[1..]), items.Length - 3);
            length = Math.Min(length, TlsRecordLimits.MaxPlaintext + 1);
            var content = items.Slice(3, length);
            items = items[(3 + length)..];
            var plain = new byte[length + 1];
            content.CopyTo(plain);
            plain[^1] = type;
            header[0] = (byte)TlsContentType.ApplicationData;
            BinaryPrimitives.WriteUInt16BigEndian(header[1..], TlsRecordLimits.LegacyVersion);
            BinaryPrimitives.WriteUInt16BigEndian(header[3..], (ushort)(plain.Length + tag.Length));
            state.WriteNonce(nonce);
            using (var aes = new AesGcm(state.Key, TlsRecordLimits.TagLength))
            {
                aes.Encrypt(nonce, plain, plain, tag, header);
            }

            state.Advance();
            output.AddRange(header.ToArray());
            output.AddRange(plain);
            output.AddRange(tag.ToArray());

            // RFC 8446 §4.6.3: after its KeyUpdate the peer writes under the next generation of its secret.
            if (type == (byte)TlsContentType.Handshake && length >= 5 && content[0] == (byte)TlsHandshakeType.KeyUpdate)
            {
                var next = state.NextGeneration();
                state.Dispose();
                state = next;
            }
        }

        state.Dispose();
        return [.. output];
    }
}
