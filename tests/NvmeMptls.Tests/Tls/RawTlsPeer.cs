using System.Buffers;
using System.Buffers.Binary;
using System.IO.Pipelines;
using System.Security.Cryptography;
using NvmeMptls.Transport.Connections;
using NvmeMptls.Transport.Tls;

namespace NvmeMptls.Tests.Tls;

/// <summary>A hand-driven TLS 1.3 record peer for tests: seals and opens records itself, can send hostile bytes.</summary>
internal sealed class RawTlsPeer : IAsyncDisposable
{
    public RawTlsPeer(MemoryConnection wire, TlsCryptoInfo tx, TlsCryptoInfo rx)
    {
        Wire = wire;
        Tx = tx;
        Rx = rx;
    }

    public MemoryConnection Wire { get; }
    public TlsCryptoInfo Tx { get; set; }
    public TlsCryptoInfo Rx { get; set; }

    /// <summary>Builds a record under <see cref="Tx"/> (advancing its sequence).</summary>
    public byte[] Seal(TlsContentType type, ReadOnlySpan<byte> content, int padding = 0)
    {
        int inner = content.Length + 1 + padding;
        var record = new byte[5 + inner + 16];
        record[0] = 23;
        BinaryPrimitives.WriteUInt16BigEndian(record.AsSpan(1), 0x0303);
        BinaryPrimitives.WriteUInt16BigEndian(record.AsSpan(3), (ushort)(inner + 16));
        content.CopyTo(record.AsSpan(5));
        record[5 + content.Length] = (byte)type;
        Span<byte> nonce = stackalloc byte[12];
        Tx.WriteNonce(nonce);
        using var aes = new AesGcm(Tx.Key, 16);
        aes.Encrypt(nonce, record.AsSpan(5, inner), record.AsSpan(5, inner), record.AsSpan(5 + inner, 16), record.AsSpan(0, 5));
        Tx.Advance();
        return record;
    }

    public async Task SendAsync(byte[] bytes)
    {
        await Wire.Output.WriteAsync(bytes);
    }

    /// <summary>Reads and opens the next record under <see cref="Rx"/>; null at end of stream.</summary>
    public async Task<(TlsContentType Type, byte[] Content)?> ReceiveAsync()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        while (true)
        {
            var result = await Wire.Input.ReadAsync(timeout.Token);
            var buffer = result.Buffer;
            if (buffer.Length >= 5)
            {
                byte[] header = buffer.Slice(0, 5).ToArray();
                int length = BinaryPrimitives.ReadUInt16BigEndian(header.AsSpan(3));
                if (buffer.Length >= 5 + length)
                {
                    byte[] body = buffer.Slice(5, length).ToArray();
                    Wire.Input.AdvanceTo(buffer.GetPosition(5 + length));
                    Span<byte> nonce = stackalloc byte[12];
                    Rx.WriteNonce(nonce);
                    using var aes = new AesGcm(Rx.Key, 16);
                    aes.Decrypt(nonce, body.AsSpan(0, length - 16), body.AsSpan(length - 16), body.AsSpan(0, length - 16), header);
                    Rx.Advance();
                    int end = length - 17;
                    while (body[end] == 0)
                    {
                        end--;
                    }
                    return ((TlsContentType)body[end], body[..end]);
                }
            }
            if (result.IsCompleted)
            {
                Wire.Input.AdvanceTo(buffer.End);
                return null;
            }
            Wire.Input.AdvanceTo(buffer.Start, buffer.End);
        }
    }

    public async ValueTask DisposeAsync() => await Wire.DisposeAsync();
}

/// <summary>Builds a record connection under test and the raw peer facing it, with fixed secrets.</summary>
internal static class RecordPair
{
    public static readonly byte[] ClientSecret = Enumerable.Range(1, 32).Select(i => (byte)i).ToArray();
    public static readonly byte[] ServerSecret = Enumerable.Range(101, 32).Select(i => (byte)i).ToArray();

    public static (TlsRecordConnection Conn, RawTlsPeer Peer) Create(TlsRecordLayerOptions? options = null,
        IRecordProtectorFactory? factory = null, ushort suite = 0x1301, bool isServer = false)
    {
        int len = suite == 0x1301 ? 32 : 48;
        var (a, b) = MemoryConnection.CreatePair();
        var session = new TlsSessionInfo("id", null, null, suite, TlsCryptoInfo.SuiteName(suite), "", "");
        var conn = new TlsRecordConnection(a,
            TlsCryptoInfo.FromTrafficSecret(suite, Resize(ServerSecret, len)), TlsCryptoInfo.FromTrafficSecret(suite, Resize(ClientSecret, len)),
            session, factory, factory, options, isServer: isServer);
        var peer = new RawTlsPeer(b, TlsCryptoInfo.FromTrafficSecret(suite, Resize(ClientSecret, len)), TlsCryptoInfo.FromTrafficSecret(suite, Resize(ServerSecret, len)));
        return (conn, peer);
    }

    private static byte[] Resize(byte[] secret, int length) => Enumerable.Range(0, length).Select(i => secret[i % secret.Length]).ToArray();
}
