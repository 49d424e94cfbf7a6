using System.IO.Pipelines;
using NvmeMptls.Transport.Connections;

namespace NvmeMptls.Initiator;

/// <summary>
/// Opens one queue's byte stream: connected and, for TLS, past the handshake, so that NVMe/TCP can start with
/// ICReq on it. The controller owns the returned pipe: it completes both halves when the queue ends and disposes
/// the pipe when it is <see cref="IAsyncDisposable"/>. <see cref="Transport.NvmeConnectionFactory"/> is the production
/// connector (TCP or MPTCP per policy, TLS when asked); tests and tools may supply their own (an in-memory pipe, a proxy).
/// </summary>
/// <param name="endpoint">Which queue to open, where, and the controller's options.</param>
/// <param name="cancellationToken">Fires at <see cref="NvmeControllerOptions.ConnectTimeout"/> or when the connect is cancelled.</param>
/// <returns>The open duplex stream.</returns>
public delegate ValueTask<IDuplexPipe> NvmeQueueConnector(NvmeQueueEndpoint endpoint, CancellationToken cancellationToken);

/// <summary>Turns what a connector returned into the connection the queue runs on.</summary>
internal static class QueueConnections
{
    /// <summary>The library's own connections are used as they are; any other pipe is wrapped.</summary>
    public static StreamConnection Adopt(IDuplexPipe pipe) =>
        pipe as StreamConnection ?? new ForeignPipeConnection(pipe);

    /// <summary>A connector-supplied pipe that is not one of Transport's connections: no socket, no TLS facts.</summary>
    private sealed class ForeignPipeConnection(IDuplexPipe pipe) : StreamConnection
    {
        public override PipeReader Input => pipe.Input;

        public override PipeWriter Output => pipe.Output;

        public override string TransportName => "custom";

        public override void Abort(Exception? reason = null)
        {
            var error = reason ?? new IOException("connection aborted");
            pipe.Output.Complete(error);
            pipe.Input.Complete(error);
        }

        public override async ValueTask DisposeAsync()
        {
            await pipe.Output.CompleteAsync().ConfigureAwait(false);
            await pipe.Input.CompleteAsync().ConfigureAwait(false);
            if (pipe is IAsyncDisposable disposable)
            {
                await disposable.DisposeAsync().ConfigureAwait(false);
            }
        }
    }
}
