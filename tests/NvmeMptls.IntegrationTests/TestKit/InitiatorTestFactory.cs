using System.Collections.Concurrent;
using NvmeMptls.Initiator;
using NvmeMptls.Initiator.Transport;
using NvmeMptls.Transport.Connections;

namespace NvmeMptls.IntegrationTests.TestKit;

/// <summary>A TCP connection factory that remembers each queue's latest connection, so a test can cut one.</summary>
public sealed class InitiatorTestFactory
{
    private readonly ConcurrentDictionary<ushort, StreamConnection> _latest = new();
    private int _opened;

    public NvmeQueueConnector Factory => ConnectAsync;

    /// <summary>Connections opened so far (a reconnect opens a new set).</summary>
    public int Opened => Volatile.Read(ref _opened);

    /// <summary>Resets the latest connection of <paramref name="queueId"/> as if the network dropped it.</summary>
    public void Cut(ushort queueId) => _latest[queueId].Abort(new IOException($"test cut queue {queueId}"));

    private async ValueTask<System.IO.Pipelines.IDuplexPipe> ConnectAsync(NvmeQueueEndpoint endpoint, CancellationToken cancellationToken)
    {
        var connection = await NvmeConnectionFactory.ConnectAsync(endpoint, Microsoft.Extensions.Logging.Abstractions.NullLoggerFactory.Instance, cancellationToken);
        Interlocked.Increment(ref _opened);
        _latest[endpoint.QueueId] = connection;
        return connection;
    }
}
