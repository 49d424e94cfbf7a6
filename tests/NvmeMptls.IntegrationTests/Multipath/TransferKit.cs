using System.IO.Pipelines;
using System.Net;
using System.Security.Cryptography;
using NvmeMptls.IntegrationTests.TestKit;
using NvmeMptls.Transport.Multipath;
using NvmeMptls.Transport.Sockets;

namespace NvmeMptls.IntegrationTests.Multipath;

/// <summary>Connections across the test bed and checksummed byte streams.</summary>
internal static class TransferKit
{
    public static readonly TimeSpan HangLimit = TimeSpan.FromSeconds(120);

    /// <summary>A connection across the test bed and the listener that accepted it.</summary>
    public sealed record Link(SocketConnection Client, SocketConnection Server, StreamListener Listener) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            await Client.DisposeAsync();
            await Server.DisposeAsync();
            await Listener.DisposeAsync();
        }
    }

    /// <summary>
    /// Listener in the target namespace on path 1, client from the initiator namespace. The listener stays open
    /// with the connection: MP_JOIN SYNs for extra subflows are received by the listening socket.
    /// </summary>
    public static async Task<Link> ConnectAsync(Testbed bed, MultipathPolicy clientPolicy, MultipathPolicy serverPolicy)
    {
        var listener = StreamListener.Bind(new IPEndPoint(Testbed.TargetAddress(1), 0), serverPolicy,
            backlog: 4, networkNamespace: bed.TargetNamespace);
        try
        {
            var accept = listener.AcceptAsync().AsTask();
            var client = await StreamConnector.ConnectAsync(new IPEndPoint(Testbed.TargetAddress(1), listener.LocalEndPoint.Port),
                clientPolicy, timeout: TimeSpan.FromSeconds(10), networkNamespace: bed.InitiatorNamespace);
            var server = await accept.WaitAsync(HangLimit);
            // One byte each way: an MPTCP client is fully established (and its path manager starts opening
            // subflows) only once the server has acknowledged data at the MPTCP level.
            await ExchangeHelloAsync(client, server);
            return new Link(client, server, listener);
        }
        catch
        {
            await listener.DisposeAsync();
            throw;
        }
    }

    private static async Task ExchangeHelloAsync(SocketConnection client, SocketConnection server)
    {
        await client.Output.WriteAsync(new byte[] { 1 });
        var atServer = await server.Input.ReadAtLeastAsync(1).AsTask().WaitAsync(HangLimit);
        server.Input.AdvanceTo(atServer.Buffer.GetPosition(1));
        await server.Output.WriteAsync(new byte[] { 2 });
        var atClient = await client.Input.ReadAtLeastAsync(1).AsTask().WaitAsync(HangLimit);
        client.Input.AdvanceTo(atClient.Buffer.GetPosition(1));
    }

    /// <summary>Waits (bounded) until the connection lists at least <paramref name="count"/> established subflows.</summary>
    public static async Task<MultipathStatus> WaitForSubflowsAsync(SocketConnection connection, int count)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (true)
        {
            var status = connection.GetMultipathStatus();
            int established = 0;
            foreach (var s in status.Subflows)
            {
                if (s.State == "established")
                    established++;
            }
            if (established >= count)
                return status;
            if (DateTime.UtcNow > deadline)
                throw new AssertionException($"expected {count} established subflows; {status.Describe()}");
            await Task.Delay(100);
        }
    }

    /// <summary>Sends seeded random bytes until <paramref name="total"/> or until <paramref name="stop"/> is set.</summary>
    public static async Task<(long Length, byte[] Hash)> SendAsync(PipeWriter output, long total, int seed,
        CancellationToken stop = default)
    {
        await Task.Yield();
        var rng = new Random(seed);
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        long sent = 0;
        while (sent < total && !stop.IsCancellationRequested)
        {
            int n = (int)Math.Min(total - sent, 64 * 1024);
            var span = output.GetSpan(n)[..n];
            rng.NextBytes(span);
            hash.AppendData(span);
            output.Advance(n);
            sent += n;
            await output.FlushAsync(CancellationToken.None);
        }
        await output.CompleteAsync();
        return (sent, hash.GetHashAndReset());
    }

    public static Task<(long Length, byte[] Hash)> ReceiveAsync(PipeReader input) => NvmeMptls.TestKit.PipeHashing.HashToEndAsync(input);

    public static SubflowInfo? OnPath(MultipathStatus status, int path)
    {
        foreach (var s in status.Subflows)
        {
            if (s.Local.Address.Equals(Testbed.InitiatorAddress(path)) || s.Remote.Address.Equals(Testbed.InitiatorAddress(path)))
                return s;
        }
        return null;
    }
}
