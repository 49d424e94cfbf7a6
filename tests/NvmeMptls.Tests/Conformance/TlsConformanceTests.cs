using NvmeMptls.Crypto.Handshake;
using NvmeMptls.Crypto.Psk;
using NvmeMptls.Transport.Connections;
using NvmeMptls.Transport.Multipath;

namespace NvmeMptls.Tests.Conformance;

/// <summary>TLS 1.3 (our record layer after a BouncyCastle PSK handshake) over each carrier passes the same suite.</summary>
public abstract class TlsOverConformanceTests : StreamConnectionConformanceTests
{
    private const string Key = "NVMeTLSkey-1:01:VRLbtnN9AQb2WXW3c9+wEf/DRLz0QuLdbYvEhwtdWwNf9LrZ:";
    private const string HostNqn = "nqn.2014-08.org.nvmexpress:uuid:0f0e0d0c-0b0a-0908-0706-050403020100";
    private const string SubNqn = "nqn.2026-01.io.nvmemptls:conformance";

    protected override int LargeTransferBytes => 16 << 20;

    protected abstract Task<(StreamConnection Client, StreamConnection Server)> CreateCarrierAsync();

    protected override async Task<(StreamConnection Client, StreamConnection Server)> CreatePairAsync()
    {
        var (client, server) = await CreateCarrierAsync();
        var keyring = new NvmePskKeyring();
        keyring.Add(Key);
        var psk = ClientPsk.Create(ConfiguredPsk.Parse(Key), HostNqn, SubNqn);
        var accept = NvmeTls.AcceptAsync(server, keyring);
        var connect = NvmeTls.ConnectAsync(client, psk);
        var secureClient = await connect.WaitAsync(TimeSpan.FromSeconds(30));
        var secureServer = await accept.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.That(secureClient.Tls, Is.Not.Null);
        Assert.That(secureServer.Tls!.HostNqn, Is.EqualTo(HostNqn));
        return (secureClient, secureServer);
    }
}

[TestFixture]
public sealed class TlsOverMemoryConformanceTests : TlsOverConformanceTests
{
    protected override Task<(StreamConnection Client, StreamConnection Server)> CreateCarrierAsync()
    {
        var (a, b) = MemoryConnection.CreatePair();
        return Task.FromResult<(StreamConnection, StreamConnection)>((a, b));
    }
}

[TestFixture]
public sealed class TlsOverTcpConformanceTests : TlsOverConformanceTests
{
    protected override async Task<(StreamConnection Client, StreamConnection Server)> CreateCarrierAsync() =>
        await LoopbackPairs.CreateAsync(MultipathPolicy.Disabled);
}

[TestFixture]
public sealed class TlsOverMptcpConformanceTests : TlsOverConformanceTests
{
    protected override async Task<(StreamConnection Client, StreamConnection Server)> CreateCarrierAsync()
    {
        var (client, server) = await LoopbackPairs.CreateAsync(MultipathPolicy.Preferred);
        if (client.GetMultipathStatus()?.Mode != TransportMode.Mptcp)
        {
            Assert.Ignore($"MPTCP is not available here ({client.TransportName})");
        }

        return (client, server);
    }
}
