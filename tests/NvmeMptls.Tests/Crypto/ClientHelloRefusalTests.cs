using System.Buffers;
using System.Text;
using NvmeMptls.Crypto.Handshake;
using NvmeMptls.Crypto.Psk;
using NvmeMptls.Transport.Connections;
using NvmeMptls.Transport.Tls;

namespace NvmeMptls.Tests.Crypto;

/// <summary>
/// Crafted ClientHellos that cannot lead to an external-PSK handshake (issue 12): the server's first and only record
/// is the fatal alert RFC 8446 names, never a ServerHello; and an oversized record is answered with its alert.
/// </summary>
public sealed class ClientHelloRefusalTests
{
    private const string Key256 = "NVMeTLSkey-1:01:VRLbtnN9AQb2WXW3c9+wEf/DRLz0QuLdbYvEhwtdWwNf9LrZ:";
    private const ushort PreSharedKey = 41;
    private const ushort PskModes = 45;

    [Test]
    public async Task NoPreSharedKey_HandshakeFailureBeforeServerHello()
        => await AssertRefusedAsync(Record(ClientHello(BaseExtensions())), TlsAlertDescription.HandshakeFailure);

    [Test]
    public async Task PreSharedKeyWithoutPskModes_MissingExtension()
        => await AssertRefusedAsync(Record(ClientHello([.. BaseExtensions(), PskExtension("NVMe0R01 nqn.a nqn.b")])), TlsAlertDescription.MissingExtension);

    [Test]
    public async Task PskKeOnly_HandshakeFailureBeforeServerHello()
        => await AssertRefusedAsync(Record(ClientHello([.. BaseExtensions(), Extension(PskModes, [1, 0]), PskExtension("NVMe0R01 nqn.a nqn.b")])),
            TlsAlertDescription.HandshakeFailure);

    [Test]
    public async Task OnlyUnknownIdentity_UnknownPskIdentityBeforeServerHello()
        => await AssertRefusedAsync(Record(ClientHello([.. BaseExtensions(), Extension(PskModes, [1, 1]), PskExtension("no-such-identity")])),
            TlsAlertDescription.UnknownPskIdentity);

    [Test]
    public async Task KnownV0IdentityWithWrongBinder_DecryptErrorBeforeServerHello()
        => await AssertRefusedAsync(Record(ClientHello([.. BaseExtensions(), Extension(PskModes, [1, 1]), PskExtension("NVMe0R01 nqn.a nqn.b")])),
            TlsAlertDescription.DecryptError);

    [Test]
    public async Task PreSharedKeyNotLast_IllegalParameterBeforeServerHello()
        => await AssertRefusedAsync(Record(ClientHello([.. BaseExtensions(), PskExtension("NVMe0R01 nqn.a nqn.b"), Extension(PskModes, [1, 1])])),
            TlsAlertDescription.IllegalParameter);

    [Test]
    public async Task MoreIdentitiesThanBinders_IllegalParameterBeforeServerHello()
    {
        var id = Encoding.ASCII.GetBytes("NVMe0R01 nqn.a nqn.b");
        byte[] one = [(byte)(id.Length >> 8), (byte)id.Length, .. id, 0, 0, 0, 0];
        byte[] identities = [.. one, .. one];
        byte[] binders = [0, 33, 32, .. new byte[32]];
        byte[] psk = Extension(PreSharedKey, [(byte)(identities.Length >> 8), (byte)identities.Length, .. identities, .. binders]);
        await AssertRefusedAsync(Record(ClientHello([.. BaseExtensions(), Extension(PskModes, [1, 1]), psk])), TlsAlertDescription.IllegalParameter);
    }

    [Test]
    public async Task RecordLongerThanTheLimit_RecordOverflowIsSentBeforeClose()
    {
        byte[] header = [22, 3, 1, 0x50, 0x00];
        await AssertRefusedAsync(header, TlsAlertDescription.RecordOverflow);
    }

    [Test]
    public async Task ClientHelloDeclaredOver64KiB_HandshakeFailureWithoutBufferingIt()
    {
        // One full 16 KiB record whose handshake header announces a 100000-byte ClientHello.
        byte[] record = [22, 3, 1, 0x40, 0x00, 1, 0x01, 0x86, 0xA0, .. new byte[(1 << 14) - 4]];
        await AssertRefusedAsync(record, TlsAlertDescription.HandshakeFailure);
    }

    /// <summary>Sends <paramref name="bytes"/>, expects the handshake to fail and the server's first record to be the alert.</summary>
    private static async Task AssertRefusedAsync(byte[] bytes, TlsAlertDescription alert)
    {
        using var keyring = new NvmePskKeyring();
        keyring.Add(Key256);
        var (client, server) = MemoryConnection.CreatePair();
        await using var _ = client;
        var accept = NvmeTls.AcceptAsync(server, keyring);
        await client.Output.WriteAsync(bytes);
        var ex = Assert.ThrowsAsync<TlsHandshakeException>(async () => await accept.WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.That(ex!.Alert, Is.EqualTo(alert));

        var sent = await ReadAllAsync(client);
        Assert.That(sent.Length, Is.GreaterThanOrEqualTo(7), "an alert record was sent before the close");
        Assert.Multiple(() =>
        {
            Assert.That(sent[0], Is.EqualTo((byte)TlsContentType.Alert), "the first record is an alert, not a ServerHello");
            Assert.That(sent[5], Is.EqualTo(2), "fatal");
            Assert.That((TlsAlertDescription)sent[6], Is.EqualTo(alert));
        });
        await server.DisposeAsync();
    }

    private static async Task<byte[]> ReadAllAsync(StreamConnection connection)
    {
        while (true)
        {
            var result = await connection.Input.ReadAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(10));
            if (result.IsCompleted || result.Buffer.Length >= 64)
            {
                var bytes = result.Buffer.ToArray();
                connection.Input.AdvanceTo(result.Buffer.End);
                return bytes;
            }

            connection.Input.AdvanceTo(result.Buffer.Start, result.Buffer.End);
        }
    }

    private static byte[] Record(byte[] handshake) => [22, 3, 1, (byte)(handshake.Length >> 8), (byte)handshake.Length, .. handshake];

    private static byte[] ClientHello(byte[][] extensions)
    {
        var ext = extensions.SelectMany(e => e).ToArray();
        byte[] body =
        [
            3, 3, .. new byte[32], 0, 0, 2, 0x13, 0x01, 1, 0,
            (byte)(ext.Length >> 8), (byte)ext.Length, .. ext,
        ];
        return [1, (byte)(body.Length >> 16), (byte)(body.Length >> 8), (byte)body.Length, .. body];
    }

    /// <summary>supported_versions (TLS 1.3), supported_groups and key_share (x25519), signature_algorithms.</summary>
    private static byte[][] BaseExtensions()
    {
        var share = new byte[32];
        new Random(7).NextBytes(share);
        return
        [
            Extension(43, [2, 3, 4]),
            Extension(10, [0, 2, 0, 29]),
            Extension(51, [0, 36, 0, 29, 0, 32, .. share]),
            Extension(13, [0, 2, 8, 4]),
        ];
    }

    private static byte[] PskExtension(string identity)
    {
        var id = Encoding.ASCII.GetBytes(identity);
        byte[] identities = [(byte)(id.Length >> 8), (byte)id.Length, .. id, 0, 0, 0, 0];
        byte[] binders = [0, 33, 32, .. new byte[32]];
        return Extension(PreSharedKey, [(byte)(identities.Length >> 8), (byte)identities.Length, .. identities, .. binders]);
    }

    private static byte[] Extension(ushort type, byte[] data) =>
        [(byte)(type >> 8), (byte)type, (byte)(data.Length >> 8), (byte)data.Length, .. data];
}
