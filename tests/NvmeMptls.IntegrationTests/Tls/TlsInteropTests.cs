using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using System.Text;
using NvmeMptls.Crypto.Handshake;
using NvmeMptls.Crypto.Psk;
using NvmeMptls.IntegrationTests.TestKit;
using NvmeMptls.Transport.Connections;

namespace NvmeMptls.IntegrationTests.Tls;

/// <summary>
/// Our client and server against independent TLS 1.3 PSK peers from Debian (OpenSSL, GnuTLS), loopback only.
/// OpenSSL runs both suites in both directions. Debian 12's GnuTLS 3.7.9 computes every PSK binder with SHA-256 and
/// has no call to change it, so its tools run TLS_AES_128_GCM_SHA256 only; GnuTLS with TLS_AES_256_GCM_SHA384 (3.8.13,
/// as tlshd, client and server) is in Interop/LinuxHostDefaultTlsTests and Interop/LinuxTargetTlsTests.
/// </summary>
[NonParallelizable]
public sealed class TlsInteropTests
{
    private const string Key256 = "NVMeTLSkey-1:01:VRLbtnN9AQb2WXW3c9+wEf/DRLz0QuLdbYvEhwtdWwNf9LrZ:";
    private const string Key384 = "NVMeTLSkey-1:02:VRLbtnN9AQb2WXW3c9+wEf/DRLz0QuLdbYvEhwtdWwP/w0S89ELi3W2LxIcLXVsDn8kXZQ==:";
    private const string Host = "nqn.2014-08.org.nvmexpress:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6";
    private const string Subsys = "nqn.2024-01.io.example:subsys1";

    private static DerivedTlsPsk Psk(string key) => ClientPsk.Create(ConfiguredPsk.Parse(key), Host, Subsys);

    private static string Require(string tool) =>
        TlsToolProcess.Find(tool) ?? throw new IgnoreException($"{tool} is not installed (apt-get install openssl gnutls-bin)");

    // OpenSSL's apps bind "-psk KEY" to TLS_AES_128_GCM_SHA256, so a SHA-384 PSK goes to them as "-psk_session FILE":
    // an SSL_SESSION whose cipher is TLS_AES_256_GCM_SHA384 and whose master key is the TLS PSK.
    [TestCase(Key256, (ushort)0x1301)]
    [TestCase(Key384, (ushort)0x1302)]
    public async Task OurClient_OpenSslServer_EchoesReversedLine(string key, ushort suite)
    {
        string openssl = Require("openssl");
        using var psk = Psk(key);
        using var pskArgs = OpenSslPskArgs.Create(openssl, psk, suite);
        int port = TlsTestSocketConnection.FreeLoopbackPort();
        using var server = new TlsToolProcess(openssl, ["s_server", "-tls1_3", "-nocert", "-accept", $"127.0.0.1:{port}", "-naccept", "1",
            .. pskArgs.Args, "-num_tickets", "0", "-rev"]);
        await using var conn = await NvmeTls.ConnectAsync(await TlsTestSocketConnection.ConnectLoopbackAsync(port), psk);
        Assert.That(conn.Tls!.CipherSuite, Is.EqualTo(suite));
        await conn.Output.WriteAsync(Encoding.ASCII.GetBytes("nvme over tls\n"));
        string line = await ReadLineAsync(conn.Input);
        Assert.That(line, Is.EqualTo("slt revo emvn"), server.Stderr);
    }

    [TestCase(Key256, (ushort)0x1301)]
    [TestCase(Key384, (ushort)0x1302)]
    public async Task OpenSslClient_OurServer_LineEchoedBack(string key, ushort suite)
    {
        string openssl = Require("openssl");
        using var psk = Psk(key);
        using var pskArgs = OpenSslPskArgs.Create(openssl, psk, suite);
        using var keyring = new NvmePskKeyring();
        keyring.Add(key);
        await RunOurServerAsync(keyring, port => new TlsToolProcess(openssl, ["s_client", "-tls1_3", "-connect", $"127.0.0.1:{port}",
            .. pskArgs.Args, "-quiet"]), suite);
    }

    /// <summary>
    /// OpenSSL's s_client without a PSK (a certificate ClientHello, no pre_shared_key): refused with handshake_failure
    /// before any ServerHello (RFC 8446 §4.1.1), and OpenSSL reports that alert.
    /// </summary>
    [Test]
    public async Task OpenSslClientWithoutPsk_OurServer_HandshakeFailureAlert()
    {
        string openssl = Require("openssl");
        using var keyring = new NvmePskKeyring();
        keyring.Add(Key256);
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen(1);
        int port = ((IPEndPoint)listener.LocalEndPoint!).Port;
        using var client = new TlsToolProcess(openssl, ["s_client", "-tls1_3", "-connect", $"127.0.0.1:{port}"]);
        using var acceptTimeout = new CancellationTokenSource(TimeSpan.FromSeconds(15));
        var socket = await listener.AcceptAsync(acceptTimeout.Token);
        var connection = new TlsTestSocketConnection(socket);
        var ex = Assert.ThrowsAsync<TlsHandshakeException>(() => NvmeTls.AcceptAsync(connection, keyring));
        Assert.That(ex!.Alert, Is.EqualTo(NvmeMptls.Transport.Tls.TlsAlertDescription.HandshakeFailure));
        await connection.DisposeAsync();
        for (int i = 0; i < 100 && !client.Stderr.Contains("alert", StringComparison.Ordinal); i++)
        {
            await Task.Delay(50);
        }

        Assert.That(client.Stderr, Does.Contain("handshake failure"), client.Stderr);
    }

    // gnutls-serv's --pskpasswd file is "username:hexkey" split at the FIRST colon, so an identity containing an NQN
    // (always with a colon) is refused with illegal_parameter(47) — by any client, OpenSSL's too. The TLS layer does
    // not interpret the NQNs, so this test derives the identity from colon-free names. GnuTLS 3.7.9 binds every PSK
    // to SHA-256, so only TLS_AES_128_GCM_SHA256 can be tested with it; SHA-384 is covered against tlshd (3.8.13).
    [TestCase(Key256, "+AES-128-GCM", (ushort)0x1301)]
    public async Task OurClient_GnuTlsServer_Echoes(string key, string cipher, ushort suite)
    {
        string gnutlsServ = Require("gnutls-serv");
        using var psk = ClientPsk.Create(ConfiguredPsk.Parse(key), "nqn.2026-01.io.nvmemptls.host-without-colon", "nqn.2026-01.io.nvmemptls.subsys-without-colon");
        string file = Path.GetTempFileName();
        await File.WriteAllTextAsync(file, $"{psk.Identity}:{Convert.ToHexStringLower(psk.TlsPsk)}\n");
        try
        {
            int port = TlsTestSocketConnection.FreeLoopbackPort();
            using var server = new TlsToolProcess(gnutlsServ, ["--echo", "--port", port.ToString(System.Globalization.CultureInfo.InvariantCulture),
                "--pskpasswd", file, "--priority", $"NONE:+VERS-TLS1.3:{cipher}:+AEAD:+ECDHE-PSK:+DHE-PSK:+GROUP-ALL:+SIGN-ALL:+MAC-ALL", "--disable-client-cert"]);
            await using var conn = await NvmeTls.ConnectAsync(await TlsTestSocketConnection.ConnectLoopbackAsync(port), psk);
            Assert.That(conn.Tls!.CipherSuite, Is.EqualTo(suite));
            await conn.Output.WriteAsync(Encoding.ASCII.GetBytes("echo me\n"));
            Assert.That(await ReadLineAsync(conn.Input), Is.EqualTo("echo me"), server.Stderr);
        }
        finally
        {
            File.Delete(file);
        }
    }

    [TestCase(Key256, "+AES-128-GCM", (ushort)0x1301)]
    // GnuTLS 3.7.9 binds every PSK to SHA-256 (gnutls_psk_allocate_client_credentials2, which takes the hash, is
    // not in its headers), so the SHA-384 suite cannot be negotiated with it; it is covered against tlshd (3.8.13).
    public async Task GnuTlsClient_OurServer_LineEchoedBack(string key, string cipher, ushort suite)
    {
        string gnutlsCli = Require("gnutls-cli");
        using var psk = Psk(key);
        using var keyring = new NvmePskKeyring();
        keyring.Add(key);
        await RunOurServerAsync(keyring, port => new TlsToolProcess(gnutlsCli, ["127.0.0.1", "--port", port.ToString(System.Globalization.CultureInfo.InvariantCulture),
            "--pskusername", psk.Identity.ToString(), "--pskkey", Convert.ToHexStringLower(psk.TlsPsk),
            "--priority", $"NONE:+VERS-TLS1.3:{cipher}:+AEAD:+ECDHE-PSK:+GROUP-ALL:+SIGN-ALL:+MAC-ALL", "--logfile", "/dev/null"]), suite);
    }

    /// <summary>Our server accepts one TCP connection, the tool sends a line, we answer "pong:" + line and check the tool printed it.</summary>
    private static async Task RunOurServerAsync(NvmePskKeyring keyring, Func<int, TlsToolProcess> startClient, ushort suite)
    {
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen(1);
        int port = ((IPEndPoint)listener.LocalEndPoint!).Port;
        using var client = startClient(port);
        using var acceptTimeout = new CancellationTokenSource(TimeSpan.FromSeconds(15));
        var socket = await listener.AcceptAsync(acceptTimeout.Token);
        await using var conn = await NvmeTls.AcceptAsync(new TlsTestSocketConnection(socket), keyring);
        Assert.That(conn.Tls!.CipherSuite, Is.EqualTo(suite));
        Assert.That(conn.Tls.HostNqn, Is.EqualTo(Host));
        await client.Stdin.WriteAsync("ping from tool\n");
        await client.Stdin.FlushAsync();
        string line = await ReadLineAsync(conn.Input);
        Assert.That(line, Is.EqualTo("ping from tool"));
        await conn.Output.WriteAsync(Encoding.ASCII.GetBytes($"pong:{line}\n"));
        Assert.That(await client.WaitForStdoutAsync("pong:ping from tool", TimeSpan.FromSeconds(10)), Is.True, client.Stdout + client.Stderr);
    }

    private static async Task<string> ReadLineAsync(PipeReader reader)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        while (true)
        {
            var result = await reader.ReadAsync(timeout.Token);
            var buffer = result.Buffer;
            var newline = buffer.PositionOf((byte)'\n');
            if (newline is { } position)
            {
                string line = Encoding.ASCII.GetString(buffer.Slice(0, position).ToArray()).TrimEnd('\r');
                reader.AdvanceTo(buffer.GetPosition(1, position));
                return line;
            }
            if (result.IsCompleted)
            {
                throw new EndOfStreamException("stream ended before a full line");
            }
            reader.AdvanceTo(buffer.Start, buffer.End);
        }
    }
}
