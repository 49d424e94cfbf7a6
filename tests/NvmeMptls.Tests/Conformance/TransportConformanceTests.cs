using System.Net;
using NvmeMptls.Transport.Connections;
using NvmeMptls.Transport.Multipath;
using NvmeMptls.Transport.Sockets;

namespace NvmeMptls.Tests.Conformance;

[TestFixture]
public sealed class MemoryConnectionConformanceTests : StreamConnectionConformanceTests
{
    protected override Task<(StreamConnection Client, StreamConnection Server)> CreatePairAsync()
    {
        var (a, b) = MemoryConnection.CreatePair();
        return Task.FromResult<(StreamConnection, StreamConnection)>((a, b));
    }
}

/// <summary>Loopback socket pairs for a given policy; reusable by layers stacked on sockets (TLS over TCP…).</summary>
public static class LoopbackPairs
{
    public static async Task<(SocketConnection Client, SocketConnection Server)> CreateAsync(MultipathPolicy policy,
        IPAddress? address = null)
    {
        address ??= IPAddress.Loopback;
        await using var listener = StreamListener.Bind(new IPEndPoint(address, 0), policy, backlog: 4);
        var accept = listener.AcceptAsync().AsTask();
        var client = await StreamConnector.ConnectAsync(listener.LocalEndPoint, policy);
        var server = await accept.WaitAsync(TimeSpan.FromSeconds(30));
        return (client, server);
    }
}

[TestFixture]
public sealed class TcpLoopbackConformanceTests : StreamConnectionConformanceTests
{
    protected override async Task<(StreamConnection Client, StreamConnection Server)> CreatePairAsync()
    {
        var (client, server) = await LoopbackPairs.CreateAsync(MultipathPolicy.Disabled);
        Assert.That(client.TransportName, Is.EqualTo("tcp"));
        return (client, server);
    }
}

[TestFixture]
public sealed class TcpIPv6LoopbackConformanceTests : StreamConnectionConformanceTests
{
    protected override int LargeTransferBytes => 8 << 20;

    protected override async Task<(StreamConnection Client, StreamConnection Server)> CreatePairAsync()
    {
        if (!System.Net.Sockets.Socket.OSSupportsIPv6)
            Assert.Ignore("IPv6 is not available on this host");
        return await LoopbackPairs.CreateAsync(MultipathPolicy.Disabled, IPAddress.IPv6Loopback);
    }
}

[TestFixture]
public sealed class MptcpLoopbackConformanceTests : StreamConnectionConformanceTests
{
    protected override async Task<(StreamConnection Client, StreamConnection Server)> CreatePairAsync()
    {
        try
        {
            var (client, server) = await LoopbackPairs.CreateAsync(MultipathPolicy.Required);
            Assert.That(client.TransportName, Is.EqualTo("mptcp"));
            Assert.That(server.TransportName, Is.EqualTo("mptcp"));
            return (client, server);
        }
        catch (MultipathUnavailableException ex)
        {
            Assert.Ignore($"MPTCP loopback not possible here: {ex.Message}");
            throw;
        }
    }
}
