using System.Buffers;
using System.IO.Pipelines;
using NvmeMptls.Transport.Connections;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace NvmeMptls.Transport.Tls;

/// <summary>
/// Our TLS 1.3 record layer over an inner stream, kTLS-style: the handshake is done elsewhere (Crypto/Handshake),
/// then this takes the application traffic keys and protects <c>application_data</c> records itself.
/// Receive and send loops are kept apart (this file holds lifecycle; see the Receive and Send parts);
/// every write to the inner stream goes through one lock so alerts and KeyUpdates interleave safely with data.
/// </summary>
public sealed partial class TlsRecordConnection : StreamConnection
{
    // Segments of a whole record's plaintext, from the connections' block pool: with the default 4 KiB segments from
    // ArrayPool.Shared a 128 KiB read opened into 32+ segments, more than the shared pool keeps on a one-CPU target.
    // Only the receive side has a pipe; the send side writes into the inner stream's buffer (RecordWriter).
    private static readonly PipeOptions PlainPipeOptions = new(pool: PipeBufferPool.Connections,
        pauseWriterThreshold: 1 << 20, resumeWriterThreshold: 1 << 19, minimumSegmentSize: TlsRecordLimits.MaxPlaintext,
        useSynchronizationContext: false);

    private static readonly PipeOptions InlinePlainPipeOptions = new(pool: PipeBufferPool.Connections,
        pauseWriterThreshold: 1 << 20, resumeWriterThreshold: 1 << 19, minimumSegmentSize: TlsRecordLimits.MaxPlaintext,
        readerScheduler: PipeScheduler.Inline, useSynchronizationContext: false);

    private readonly StreamConnection _inner;
    private readonly Pipe _plainIn;
    private readonly RecordWriter _output;
    private readonly SemaphoreSlim _writeLock = new(1, 1);
    private readonly IRecordProtectorFactory _sealFactory;
    private readonly IRecordProtectorFactory _openFactory;
    private readonly TlsRecordLayerOptions _options;
    private readonly ILogger _logger;
    private readonly byte[] _recordBuffer;
    private readonly TlsSessionInfo _session;
    private readonly bool _isServer;
    private readonly Task _receiveTask;
    private TlsCryptoInfo _tx;
    private TlsCryptoInfo _rx;
    private IRecordProtector _sealer;
    private IRecordProtector _opener;
    private int _disposed;

    /// <param name="inner">The carrier, positioned just after the peer's Finished (no buffered handshake bytes).</param>
    /// <param name="tx">Write state (our application traffic secret); the connection owns and zeroes it.</param>
    /// <param name="rx">Read state (the peer's application traffic secret); owned likewise.</param>
    /// <param name="session">Handshake facts; provider names are filled in from the factories.</param>
    /// <param name="isServer">True on the server side, which must refuse the messages only a server sends (NewSessionTicket).</param>
    public TlsRecordConnection(StreamConnection inner, TlsCryptoInfo tx, TlsCryptoInfo rx, TlsSessionInfo session,
        IRecordProtectorFactory? sealFactory = null, IRecordProtectorFactory? openFactory = null,
        TlsRecordLayerOptions? options = null, ILogger? logger = null, bool isServer = false)
    {
        _isServer = isServer;
        _options = options ?? TlsRecordLayerOptions.Default;
        _options.Validate();
        _plainIn = new Pipe(_options.InlineReader ? InlinePlainPipeOptions : PlainPipeOptions);
        _inner = inner;
        _tx = tx;
        _rx = rx;
        _sealFactory = sealFactory ?? AesGcmRecordProtectorFactory.Instance;
        _openFactory = openFactory ?? AesGcmRecordProtectorFactory.Instance;
        _sealer = _sealFactory.CreateSealer(tx.Key);
        try
        {
            _opener = _openFactory.CreateOpener(rx.Key);
        }
        catch
        {
            _sealer.Dispose();
            throw;
        }
        _logger = logger ?? NullLogger.Instance;
        _session = session with { SealProvider = _sealFactory.Name, OpenProvider = _openFactory.Name };
        _recordBuffer = ArrayPool<byte>.Shared.Rent(TlsRecordLimits.MaxCiphertext);
        _output = new RecordWriter(this);
        _receiveTask = Task.Run(ReceiveLoopAsync);
    }

    public override PipeReader Input => _plainIn.Reader;
    public override PipeWriter Output => _output;
    public override string TransportName => "tls/" + _inner.TransportName;
    public override System.Net.EndPoint? LocalEndPoint => _inner.LocalEndPoint;
    public override System.Net.EndPoint? RemoteEndPoint => _inner.RemoteEndPoint;
    public override System.Net.Sockets.Socket? UnderlyingSocket => _inner.UnderlyingSocket;
    public override Multipath.MultipathStatus? GetMultipathStatus() => _inner.GetMultipathStatus();
    public override TlsSessionInfo Tls => _session;

    /// <summary>Records sealed so far under the current write key.</summary>
    public long RecordsUnderWriteKey { get; private set; }

    /// <summary>Records sealed and opened over the connection's life, and KeyUpdates sent and received (for metrics).</summary>
    public long RecordsSealed { get; private set; }

    public long RecordsOpened { get; private set; }

    /// <summary>Records that lay across two receive segments and were copied once before opening (the rest open in one pass).</summary>
    public long RecordsOpenedAcrossSegments { get; private set; }

    public int KeyUpdatesSent { get; private set; }

    public int KeyUpdatesReceived { get; private set; }

    /// <summary>Set once the write key reached <see cref="TlsRecordLayerOptions.KeyLimitRecords"/> under the reconnect policy.</summary>
    public bool KeyLimitReached { get; private set; }

    /// <summary>Raised once (from the writer's Advance or flush) when the NVMe layer should reconnect before the AES-GCM limit.</summary>
    public event Action<TlsRecordConnection>? KeyLimitApproaching;

    /// <summary>Why the receive side ended (null while running or after close_notify).</summary>
    public Exception? ReceiveError { get; private set; }

    /// <summary>Completes when both loops have ended.</summary>
    public Task Completion => Task.WhenAll(_receiveTask, _outputDone.Task);

    public override void Abort(Exception? reason = null)
    {
        _inner.Abort(reason);
        _plainIn.Writer.Complete(reason);
        _output.OnAbort();
        _ = SendAlertAndCloseAsync(null);
    }

    /// <summary>
    /// The record layer seals spliced memory from where it lies (<see cref="IRecordProtector.SealFrom"/>): with a provider
    /// that seals in parts, a read's data goes from its buffer into sealed records in one pass instead of being copied
    /// into the output first. Every record holding spliced bytes is sealed before <see cref="SpliceOutput"/> returns.
    /// </summary>
    public override bool CanSpliceOutput => true;

    /// <inheritdoc />
    public override void SpliceOutput(ArraySegment<byte> data, IOutputSpliceCompletion completion, object? token)
    {
        ArgumentNullException.ThrowIfNull(completion);
        bool sealedAll = false;
        try
        {
            sealedAll = _output.Splice(data);
        }
        finally
        {
            // Exactly once, also when sealing threw: the caller's memory is no longer referenced either way.
            completion.OnSpliceCompleted(token, sealedAll);
        }
    }

    public override async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }
        await _output.CompleteAsync().ConfigureAwait(false);
        await _outputDone.Task.ConfigureAwait(false);
        await _plainIn.Reader.CompleteAsync().ConfigureAwait(false);
        _inner.Input.CancelPendingRead();
        await _receiveTask.ConfigureAwait(false);
        await _inner.DisposeAsync().ConfigureAwait(false);
        _sealer.Dispose();
        _opener.Dispose();
        _tx.Dispose();
        _rx.Dispose();
        System.Security.Cryptography.CryptographicOperations.ZeroMemory(_recordBuffer);
        ArrayPool<byte>.Shared.Return(_recordBuffer);
        if (_handshakeFragment is not null)
        {
            ArrayPool<byte>.Shared.Return(_handshakeFragment);
            _handshakeFragment = null;
        }
        _writeLock.Dispose();
    }
}
