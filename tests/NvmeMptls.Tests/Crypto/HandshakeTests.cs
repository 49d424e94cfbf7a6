using System.Buffers;
using System.IO.Pipelines;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using NvmeMptls.Crypto.Aead;
using NvmeMptls.Crypto.Handshake;
using NvmeMptls.Crypto.Psk;
using NvmeMptls.Transport.Connections;
using NvmeMptls.Transport.Tls;

namespace NvmeMptls.Tests.Crypto;

/// <summary>BouncyCastle client against BouncyCastle server over memory pipes, then data through our record layer.</summary>
public sealed class HandshakeTests
{
    private const string Key256 = "NVMeTLSkey-1:01:VRLbtnN9AQb2WXW3c9+wEf/DRLz0QuLdbYvEhwtdWwNf9LrZ:";
    private const string Key384 = "NVMeTLSkey-1:02:VRLbtnN9AQb2WXW3c9+wEf/DRLz0QuLdbYvEhwtdWwP/w0S89ELi3W2LxIcLXVsDn8kXZQ==:";
    private const string Host = "nqn.2014-08.org.nvmexpress:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6";
    private const string Subsys = "nqn.2024-01.io.example:subsys1";

    [TestCase(Key256, TlsKeyExchangeGroup.X25519, (ushort)0x1301, false)]
    [TestCase(Key256, TlsKeyExchangeGroup.Secp256r1, (ushort)0x1301, true)]
    [TestCase(Key384, TlsKeyExchangeGroup.X25519, (ushort)0x1302, false)]
    [TestCase(Key384, TlsKeyExchangeGroup.Secp256r1, (ushort)0x1302, true)]
    public async Task Handshake_BcClientAndServer_NegotiatesSuiteOfPskHashAndEchoes(string key, TlsKeyExchangeGroup group, ushort suite, bool compat)
    {
        using var keyring = new NvmePskKeyring();
        keyring.Add(key);
        using var psk = ClientPsk.Create(ConfiguredPsk.Parse(key), Host, Subsys, 1, compat);
        var options = NvmeTlsOptions.Default with { Groups = [group] };
        var (a, b) = MemoryConnection.CreatePair();
        var serverTask = NvmeTls.AcceptAsync(b, keyring, options);
        await using var client = await NvmeTls.ConnectAsync(a, psk, options);
        await using var server = await serverTask;

        Assert.Multiple(() =>
        {
            Assert.That(client.Tls!.CipherSuite, Is.EqualTo(suite));
            Assert.That(server.Tls!.CipherSuite, Is.EqualTo(suite));
            Assert.That(server.Tls.PskIdentity, Is.EqualTo(psk.Identity.ToString()));
            Assert.That(server.Tls.HostNqn, Is.EqualTo(Host));
            Assert.That(server.Tls.SubsystemNqn, Is.EqualTo(Subsys));
            Assert.That(server.Tls.CompatDerivation, Is.EqualTo(compat));
            Assert.That(server.Tls.KeyExchangeGroup, Is.EqualTo(group == TlsKeyExchangeGroup.X25519 ? "x25519" : "secp256r1"));
            Assert.That(client.Tls.SealProvider, Is.EqualTo(DefaultProvider), "the default provider");
            Assert.That(client.TransportName, Is.EqualTo("tls/memory"));
        });

        byte[] request = RandomBytes(40_000);
        await client.Output.WriteAsync(request);
        Assert.That(await ReadExactlyAsync(server.Input, request.Length), Is.EqualTo(request));
        byte[] reply = RandomBytes(333);
        await server.Output.WriteAsync(reply);
        Assert.That(await ReadExactlyAsync(client.Input, reply.Length), Is.EqualTo(reply));
    }

    [Test]
    public async Task Handshake_UnknownIdentity_RefusedWithUnknownPskIdentityOnBothSides()
    {
        using var keyring = new NvmePskKeyring();
        keyring.Add(Key256);
        using var stranger = ClientPsk.Create(ConfiguredPsk.Generate(NvmePskHash.Sha256), Host, Subsys);
        var (a, b) = MemoryConnection.CreatePair();
        var serverTask = NvmeTls.AcceptAsync(b, keyring);
        var clientEx = Assert.ThrowsAsync<TlsHandshakeException>(() => NvmeTls.ConnectAsync(a, stranger));
        var serverEx = Assert.ThrowsAsync<TlsHandshakeException>(() => serverTask);
        Assert.Multiple(() =>
        {
            Assert.That(serverEx!.Reason, Is.EqualTo(TlsHandshakeFailure.UnknownIdentity));
            Assert.That(serverEx.Alert, Is.EqualTo(TlsAlertDescription.UnknownPskIdentity));
            Assert.That(clientEx!.Reason, Is.EqualTo(TlsHandshakeFailure.UnknownIdentity));
        });
    }

    [Test]
    public async Task Handshake_HostRestrictedKey_RefusedWithHostNotAllowed()
    {
        using var keyring = new NvmePskKeyring();
        keyring.Add(Key256, hostNqn: "nqn.someone-else");
        using var psk = ClientPsk.Create(ConfiguredPsk.Parse(Key256), Host, Subsys);
        var (a, b) = MemoryConnection.CreatePair();
        var serverTask = NvmeTls.AcceptAsync(b, keyring);
        Assert.ThrowsAsync<TlsHandshakeException>(() => NvmeTls.ConnectAsync(a, psk));
        var serverEx = Assert.ThrowsAsync<TlsHandshakeException>(() => serverTask);
        Assert.That(serverEx!.Reason, Is.EqualTo(TlsHandshakeFailure.HostNotAllowed));
        await Task.CompletedTask;
    }

    [Test]
    public void Handshake_SameIdentityWrongKey_FailsWithPskMismatch()
    {
        using var keyring = new NvmePskKeyring();
        keyring.Add(Key256);
        using var real = ClientPsk.Create(ConfiguredPsk.Parse(Key256), Host, Subsys);
        using var forged = new DerivedTlsPsk(real.Identity, new byte[32], compat: false);
        var (a, b) = MemoryConnection.CreatePair();
        var serverTask = NvmeTls.AcceptAsync(b, keyring);
        Assert.ThrowsAsync<TlsHandshakeException>(() => NvmeTls.ConnectAsync(a, forged));
        var serverEx = Assert.ThrowsAsync<TlsHandshakeException>(() => serverTask);
        Assert.That(serverEx!.Reason, Is.EqualTo(TlsHandshakeFailure.PskMismatch));
    }

    [Test]
    public void Handshake_SilentPeer_TimesOut()
    {
        using var psk = ClientPsk.Create(ConfiguredPsk.Parse(Key256), Host, Subsys);
        var (a, _) = MemoryConnection.CreatePair();
        var ex = Assert.ThrowsAsync<TlsHandshakeException>(() =>
            NvmeTls.ConnectAsync(a, psk, NvmeTlsOptions.Default with { HandshakeTimeout = TimeSpan.FromMilliseconds(200) }));
        Assert.That(ex!.Reason, Is.EqualTo(TlsHandshakeFailure.Timeout));
    }

    [Test]
    public async Task Handshake_KeyLogPath_WritesApplicationAndHandshakeSecretLines()
    {
        string path = Path.Combine(Path.GetTempPath(), $"nvme-keylog-{Guid.NewGuid():N}.txt");
        try
        {
            using var keyring = new NvmePskKeyring();
            keyring.Add(Key256);
            using var psk = ClientPsk.Create(ConfiguredPsk.Parse(Key256), Host, Subsys);
            var (a, b) = MemoryConnection.CreatePair();
            var serverTask = NvmeTls.AcceptAsync(b, keyring);
            await using var client = await NvmeTls.ConnectAsync(a, psk, NvmeTlsOptions.Default with { KeyLogPath = path });
            await using var server = await serverTask;
            string[] lines = File.ReadAllLines(path);
            Assert.That(lines.Select(l => l.Split(' ')[0]), Is.SupersetOf(new[] { "CLIENT_TRAFFIC_SECRET_0", "SERVER_TRAFFIC_SECRET_0", "CLIENT_HANDSHAKE_TRAFFIC_SECRET", "SERVER_HANDSHAKE_TRAFFIC_SECRET" }));
            Assert.That(lines.All(l => l.Split(' ') is [_, { Length: 64 }, { Length: 64 }]), Is.True);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Test]
    public async Task Handshake_KernelTlsRequestedOverMemory_FallsBackToUserSpace()
    {
        using var keyring = new NvmePskKeyring();
        keyring.Add(Key256);
        using var psk = ClientPsk.Create(ConfiguredPsk.Parse(Key256), Host, Subsys);
        var options = NvmeTlsOptions.Default with { RecordProvider = TlsRecordProvider.KernelTls };
        var (a, b) = MemoryConnection.CreatePair();
        var serverTask = NvmeTls.AcceptAsync(b, keyring, options);
        await using var client = await NvmeTls.ConnectAsync(a, psk, options);
        await using var server = await serverTask;
        Assert.That(client.Tls!.SealProvider, Is.EqualTo(DefaultProvider));
        await client.Output.WriteAsync(new byte[] { 1, 2, 3 });
        Assert.That(await ReadExactlyAsync(server.Input, 3), Is.EqualTo(new byte[] { 1, 2, 3 }));
    }

    /// <summary>What the default (OpenSSL's EVP) gives on this machine: itself, or .NET's AesGcm without libcrypto 3.</summary>
    private static string DefaultProvider => OpenSslGcmProtectorFactory.IsAvailable ? "openssl-evp" : "dotnet-aesgcm";

    private sealed class WarningLog : ILogger
    {
        public readonly List<(EventId Id, string Message)> Lines = [];

        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Warning;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            Lines.Add((eventId, formatter(state, exception)));
    }

    [Test]
    public void RecordFactory_OpenSslUnavailable_AesGcmForOpenSslAndKernelTls_SaidOnceToALoggerThatListens()
    {
        var silent = NullLogger.Instance;
        var log = new WarningLog();
        Assert.Multiple(() =>
        {
            Assert.That(NvmeTls.RecordFactory(TlsRecordProvider.OpenSsl, openSslAvailable: true, log).Name, Is.EqualTo("openssl-evp"));
            Assert.That(NvmeTls.RecordFactory(TlsRecordProvider.KernelTls, openSslAvailable: true, log).Name, Is.EqualTo("openssl-evp"));
            Assert.That(NvmeTls.RecordFactory(TlsRecordProvider.BouncyCastle, openSslAvailable: false, log).Name, Is.EqualTo("bouncycastle"));
            Assert.That(log.Lines, Is.Empty);
            // A logger that shows no warnings does not use up the one message.
            Assert.That(NvmeTls.RecordFactory(TlsRecordProvider.OpenSsl, openSslAvailable: false, silent).Name, Is.EqualTo("dotnet-aesgcm"));
            Assert.That(NvmeTls.RecordFactory(TlsRecordProvider.OpenSsl, openSslAvailable: false, log).Name, Is.EqualTo("dotnet-aesgcm"));
            Assert.That(NvmeTls.RecordFactory(TlsRecordProvider.KernelTls, openSslAvailable: false, log).Name, Is.EqualTo("dotnet-aesgcm"));
        });
        // Once per process. Where libcrypto 3 is present no other test falls back, so it is said here, exactly once.
        if (OpenSslGcmProtectorFactory.IsAvailable)
        {
            Assert.That(log.Lines, Has.Count.EqualTo(1));
        }
        Assert.That(log.Lines.Select(l => l.Id.Id), Is.All.EqualTo(2006));
        Assert.That(log.Lines.Select(l => l.Message), Is.All.Contains("AesGcm"));
    }

    [TestCase(TlsRecordProvider.OpenSsl, TlsRecordProvider.DotNetAesGcm, "openssl-evp", "dotnet-aesgcm")]
    [TestCase(TlsRecordProvider.DotNetAesGcm, TlsRecordProvider.BouncyCastle, "dotnet-aesgcm", "bouncycastle")]
    [TestCase(TlsRecordProvider.BouncyCastle, TlsRecordProvider.OpenSsl, "bouncycastle", "openssl-evp")]
    public async Task Handshake_EachRecordProviderAsChosen_ReportedAndInteroperates(TlsRecordProvider clientProvider, TlsRecordProvider serverProvider,
        string clientName, string serverName)
    {
        Assume.That(OpenSslGcmProtectorFactory.IsAvailable, () => OpenSslGcmProtectorFactory.UnavailableReason!);
        using var keyring = new NvmePskKeyring();
        keyring.Add(Key256);
        using var psk = ClientPsk.Create(ConfiguredPsk.Parse(Key256), Host, Subsys);
        var (a, b) = MemoryConnection.CreatePair();
        var serverTask = NvmeTls.AcceptAsync(b, keyring, NvmeTlsOptions.Default with { RecordProvider = serverProvider });
        await using var client = await NvmeTls.ConnectAsync(a, psk, NvmeTlsOptions.Default with { RecordProvider = clientProvider });
        await using var server = await serverTask;
        Assert.Multiple(() =>
        {
            Assert.That(client.Tls!.SealProvider, Is.EqualTo(clientName));
            Assert.That(client.Tls.OpenProvider, Is.EqualTo(clientName));
            Assert.That(server.Tls!.SealProvider, Is.EqualTo(serverName));
        });
        byte[] request = RandomBytes(70_000), reply = RandomBytes(20_000);
        await client.Output.WriteAsync(request);
        Assert.That(await ReadExactlyAsync(server.Input, request.Length), Is.EqualTo(request));
        await server.Output.WriteAsync(reply);
        Assert.That(await ReadExactlyAsync(client.Input, reply.Length), Is.EqualTo(reply));
    }

    internal static byte[] RandomBytes(int n)
    {
        var bytes = new byte[n];
        Random.Shared.NextBytes(bytes);
        return bytes;
    }

    internal static async Task<byte[]> ReadExactlyAsync(PipeReader reader, int count)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        while (true)
        {
            var result = await reader.ReadAsync(timeout.Token);
            if (result.Buffer.Length >= count)
            {
                byte[] data = result.Buffer.Slice(0, count).ToArray();
                reader.AdvanceTo(result.Buffer.GetPosition(count));
                return data;
            }
            if (result.IsCompleted)
            {
                throw new EndOfStreamException($"got {result.Buffer.Length} of {count} bytes");
            }
            reader.AdvanceTo(result.Buffer.Start, result.Buffer.End);
        }
    }
}
