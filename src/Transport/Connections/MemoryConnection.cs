using System.IO.Pipelines;

namespace NvmeMptls.Transport.Connections;

/// <summary>An in-process duplex stream built from two pipes: the carrier for in-memory tests and benchmarks.</summary>
public sealed class MemoryConnection : StreamConnection
{
    private readonly Pipe _in;
    private readonly Pipe _out;

    private MemoryConnection(Pipe input, Pipe output)
    {
        _in = input;
        _out = output;
    }

    public override PipeReader Input => _in.Reader;
    public override PipeWriter Output => _out.Writer;
    public override string TransportName => "memory";

    /// <summary>Creates two connected ends; bytes written to one are read from the other.</summary>
    public static (MemoryConnection A, MemoryConnection B) CreatePair(PipeOptions? options = null)
    {
        options ??= new PipeOptions(pool: PipeBufferPool.Connections, pauseWriterThreshold: 1 << 20, resumeWriterThreshold: 1 << 19,
            useSynchronizationContext: false);
        var aToB = new Pipe(options);
        var bToA = new Pipe(options);
        return (new MemoryConnection(bToA, aToB), new MemoryConnection(aToB, bToA));
    }

    /// <summary>
    /// Fails the peer's reads and writes with <paramref name="reason"/>. Only this end's halves of the two pipes
    /// are completed: completing the peer's halves too would make its next read or write throw
    /// InvalidOperationException ("not allowed after … was completed") instead of the abort error.
    /// </summary>
    public override void Abort(Exception? reason = null)
    {
        var ex = reason ?? new IOException("connection aborted");
        _out.Writer.Complete(ex);
        _in.Reader.Complete(ex);
    }

    public override async ValueTask DisposeAsync()
    {
        await _out.Writer.CompleteAsync().ConfigureAwait(false);
        await _in.Reader.CompleteAsync().ConfigureAwait(false);
    }
}
