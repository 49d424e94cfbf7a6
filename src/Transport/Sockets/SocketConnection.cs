using System.Diagnostics;
using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using NvmeMptls.Transport.Connections;
using NvmeMptls.Transport.Multipath;

namespace NvmeMptls.Transport.Sockets;

/// <summary>
/// A TCP or MPTCP socket as a <see cref="StreamConnection"/>: one receive loop (socket → Input) and one
/// send loop (Output → socket), never sharing state. Back-pressure comes from the pipe thresholds: a
/// reader that does not read stops the receive loop, which closes the TCP window on the peer.
/// </summary>
public sealed partial class SocketConnection : StreamConnection
{
    private readonly Socket _socket;
    private readonly Pipe _input;
    private readonly Pipe _output;
    private readonly SpliceCountingWriter _outputWriter;
    private readonly SocketConnectionOptions _options;
    private readonly ILogger _logger;
    private readonly string? _fallbackReason;
    private Task _receiveTask;
    private CancellationTokenSource _receivePause = new();
    private readonly Task _sendTask;
    private Exception? _abortReason;
    private volatile bool _closing;
    private int _disposed;

    /// <summary>
    /// Wraps a connected socket and starts its loops. <paramref name="fallbackReason"/> says why the connection is
    /// plain TCP although <paramref name="policy"/> allowed MPTCP (the OS refused, or the peer did not negotiate it).
    /// </summary>
    public SocketConnection(Socket socket, MultipathPolicy policy = MultipathPolicy.Preferred, string? fallbackReason = null,
        SocketConnectionOptions? options = null, ILogger? logger = null)
    {
        _socket = socket;
        Policy = policy;
        _options = (options ?? SocketConnectionOptions.Default).Validate();
        _pollTicks = (long)(_options.ReceivePoll.TotalSeconds * Stopwatch.Frequency);
        _logger = logger ?? NullLogger.Instance;
        _fallbackReason = fallbackReason;
        try
        {
            socket.NoDelay = true;
        }
        catch (SocketException)
        {
            // An MPTCP socket on a kernel without TCP_NODELAY passthrough: latency only, not correctness.
        }
        LocalEndPoint = EndPointOrNull(socket, remote: false);
        RemoteEndPoint = EndPointOrNull(socket, remote: true);
        TransportName = ComputeTransportName();

        var readers = _options.InlineReaders ? PipeScheduler.Inline : PipeScheduler.ThreadPool;
        _input = new Pipe(new PipeOptions(pauseWriterThreshold: _options.InputPauseThreshold, resumeWriterThreshold: _options.InputResumeThreshold,
            minimumSegmentSize: _options.ReceiveSegmentSize, pool: PipeBufferPool.Connections, readerScheduler: readers, useSynchronizationContext: false));
        _output = new Pipe(new PipeOptions(pauseWriterThreshold: _options.OutputPauseThreshold, resumeWriterThreshold: _options.OutputResumeThreshold,
            minimumSegmentSize: _options.SendSegmentSize, pool: PipeBufferPool.Connections, readerScheduler: readers, useSynchronizationContext: false));
        _outputWriter = new SpliceCountingWriter(this, _output.Writer);
        _receiveTask = ReceiveLoopAsync();
        _sendTask = SendLoopAsync();
    }

    public MultipathPolicy Policy { get; }
    public override PipeReader Input => _input.Reader;
    public override PipeWriter Output => _outputWriter;
    public override EndPoint? LocalEndPoint { get; }
    public override EndPoint? RemoteEndPoint { get; }
    public override string TransportName { get; }
    public override Socket UnderlyingSocket => _socket;

    /// <summary>Live snapshot: mode, why it fell back, and the kernel's subflow list.</summary>
    public override MultipathStatus GetMultipathStatus()
    {
        if (Policy == MultipathPolicy.Disabled)
            return new MultipathStatus(TransportMode.Tcp, null, []);
        if (_closing)
            return new MultipathStatus(TransportName == "mptcp" ? TransportMode.Mptcp : TransportMode.MptcpFallback, _fallbackReason, []);
        if (!MptcpSocketOptions.IsMptcpActive(_socket))
            return new MultipathStatus(TransportMode.MptcpFallback, _fallbackReason ?? PeerFallbackReason(RemoteEndPoint), []);
        return new MultipathStatus(TransportMode.Mptcp, null, MptcpSocketOptions.GetSubflows(_socket));
    }

    /// <summary>The fallback reason for a peer that did not answer MP_CAPABLE.</summary>
    public static string PeerFallbackReason(EndPoint? peer)
        => $"peer {peer} did not negotiate MPTCP (no MP_CAPABLE), the connection fell back to plain TCP";

    // A peer may reset between connect/accept and here; getpeername then fails with ENOTCONN, and the
    // reset is reported on the Input pipe instead.
    private static EndPoint? EndPointOrNull(Socket socket, bool remote)
    {
        try
        {
            return remote ? socket.RemoteEndPoint : socket.LocalEndPoint;
        }
        catch (SocketException)
        {
            return null;
        }
    }

    private string ComputeTransportName()
    {
        if (Policy == MultipathPolicy.Disabled)
            return "tcp";
        return MptcpSocketOptions.IsMptcpActive(_socket) ? "mptcp" : "tcp (mptcp fallback)";
    }

    private async Task ReceiveLoopAsync()
    {
        await Task.Yield();
        var writer = _input.Writer;
        var pause = _receivePause.Token;
        var hint = _options.MinReceiveSize;
        Exception? error = null;
        try
        {
            while (true)
            {
                // Asking for no more than MinReceiveSize lets a receive land in the free rest of the last segment. Asking
                // for a whole segment each time made every small receive start a new one, which the pipe keeps until
                // the reader consumes past it: a peer sending one byte per segment made us hold a segment per byte.
                // Only after a receive that filled its buffer is the hint BurstReceiveSize.
                var memory = writer.GetMemory(hint);
                PollForInput();
                int received;
                try
                {
                    received = await _socket.ReceiveAsync(memory, SocketFlags.None, pause).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (pause.IsCancellationRequested)
                {
                    // PauseReceivingAsync: stop without completing the pipe; ResumeReceiving starts a new loop.
                    return;
                }
                if (received == 0)
                {
                    SocketLog.PeerFin(_logger, RemoteEndPoint);
                    break;
                }
                // A full buffer means more is likely waiting: the next receive asks for a burst-sized buffer (BurstReceiveSize)
                // and a placement reads at once instead of waiting first.
                _receiveDrained = received < memory.Length;
                hint = _receiveDrained ? _options.MinReceiveSize : _options.BurstReceiveSize;
                writer.Advance(received);
                var flush = await FlushInline(writer).ConfigureAwait(false);
                if (flush.IsCompleted || flush.IsCanceled)
                    break;
                if (pause.IsCancellationRequested)
                {
                    FailPlacement(new OperationCanceledException("receive paused inside placed PDU data"));
                    return;
                }

                // The reader, run inline by that flush, may have asked for the next bytes in its own memory
                // (IReceivePlacement); its continuation may ask again. A placement still armed after this (the peer
                // closed, or the pipe's reader is gone) fails when the loop ends.
                while (_placementArmed)
                {
                    try
                    {
                        if (!await ReceivePlacedAsync(writer).ConfigureAwait(false))
                            break;
                    }
                    catch (OperationCanceledException ex) when (_placementCancel.IsCancellationRequested)
                    {
                        // The reader gave up (its token) or the receive pauses: the stream is cut inside a PDU.
                        FailPlacement(ex);
                        if (pause.IsCancellationRequested)
                            return;
                        error = ex;
                        break;
                    }
                }

                if (_placementArmed || error is not null)
                    break;
            }
        }
        catch (Exception ex) when (ReceiveErrorFilter is { } filter && !_closing && _abortReason is null)
        {
            // kTLS: the error may be a control record at the head of the queue (close_notify ends the stream cleanly).
            error = filter(_socket, ex);
            if (error is not null)
                SocketLog.LoopError(_logger, RemoteEndPoint, "receive", SocketErrors.Classify(ex), error);
        }
        catch (Exception ex)
        {
            error = LoopError(ex, "receive");
        }
        FailPlacement(error);
        await writer.CompleteAsync(error).ConfigureAwait(false);
    }

    /// <summary>
    /// Set when kTLS owns the socket: turns a failed receive into what the kernel's control record says (null: the
    /// peer closed with close_notify). See <see cref="Tls.KernelTlsControl"/>.
    /// </summary>
    internal Func<Socket, Exception, Exception?>? ReceiveErrorFilter { get; set; }

    /// <inheritdoc />
    public override async ValueTask<bool> PauseReceivingAsync()
    {
        await _receivePause.CancelAsync().ConfigureAwait(false);
        await _placementCancel.CancelAsync().ConfigureAwait(false);
        await _receiveTask.ConfigureAwait(false);
        return true;
    }

    /// <inheritdoc />
    public override void ResumeReceiving()
    {
        if (!_receivePause.IsCancellationRequested)
            return;
        _receivePause.Dispose();
        _receivePause = new CancellationTokenSource();
        _placementCancel.Dispose();
        _placementCancel = new CancellationTokenSource();
        _receiveTask = ReceiveLoopAsync();
    }

    private async Task SendLoopAsync()
    {
        await Task.Yield();
        var reader = _output.Reader;
        Exception? error = null;
        try
        {
            while (true)
            {
                var result = await reader.ReadAsync().ConfigureAwait(false);
                // A cancelled read is an abort, or a flush that added no byte while splices wait (SpliceCountingWriter).
                if (result.IsCanceled && _abortReason is not null)
                {
                    error = _abortReason;
                    break;
                }
                var buffer = result.Buffer;
                try
                {
                    if (Volatile.Read(ref _pendingSplices) > 0)
                    {
                        await SendGatheredAsync(buffer).ConfigureAwait(false);
                    }
                    else
                    {
                        foreach (var segment in buffer)
                            await SendAllAsync(segment).ConfigureAwait(false);
                    }
                }
                finally
                {
                    _consumed += buffer.Length;
                    reader.AdvanceTo(buffer.End);
                }
                if (result.IsCompleted)
                {
                    if (!_closing)
                        _socket.Shutdown(SocketShutdown.Send);
                    break;
                }
            }
        }
        catch (Exception ex)
        {
            error = LoopError(ex, "send");
        }
        finally
        {
            CloseSplices();
            await reader.CompleteAsync(error).ConfigureAwait(false);
        }
    }

    private async ValueTask SendAllAsync(ReadOnlyMemory<byte> segment)
    {
        while (!segment.IsEmpty)
        {
            int sent = await _socket.SendAsync(segment, SocketFlags.None).ConfigureAwait(false);
            segment = segment[sent..];
        }
    }

    /// <summary>The exception a loop completes its pipe with; null for our own orderly close.</summary>
    private Exception? LoopError(Exception ex, string direction)
    {
        if (_abortReason is { } reason)
            return reason;
        var kind = SocketErrors.Classify(ex);
        if (_closing && kind == ConnectionErrorKind.Closed)
            return null;
        SocketLog.LoopError(_logger, RemoteEndPoint, direction, kind, ex);
        return SocketErrors.ToPipeException(ex, direction);
    }

    /// <summary>Resets the connection (linger 0 → RST); both pipes fail with <paramref name="reason"/>.</summary>
    public override void Abort(Exception? reason = null)
    {
        if (Interlocked.CompareExchange(ref _abortReason, reason ?? new ConnectionAbortedException("connection aborted locally"), null) != null)
            return;
        _closing = true;
        SocketLog.Aborted(_logger, RemoteEndPoint);
        try
        {
            _socket.LingerState = new LingerOption(true, 0);
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
            // Already closed: nothing left to reset.
        }
        _socket.Dispose();
        _output.Reader.CancelPendingRead();
    }

    /// <summary>
    /// Orderly close: sends what the application wrote (up to <see cref="SocketConnectionOptions.DisposeFlushTimeout"/>,
    /// then aborts), sends FIN, closes the socket. Safe to call more than once.
    /// </summary>
    public override async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
            return;
        await _output.Writer.CompleteAsync().ConfigureAwait(false);
        try
        {
            await _sendTask.WaitAsync(_options.DisposeFlushTimeout).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            Abort(new ConnectionAbortedException("unsent data did not drain before dispose"));
        }
        _closing = true;
        await _input.Reader.CompleteAsync().ConfigureAwait(false);
        _socket.Dispose();
        await _receiveTask.ConfigureAwait(false);
        await _sendTask.ConfigureAwait(false);
        _receivePause.Dispose();
        _placementCancel.Dispose();
        _gatherSender.Dispose();
    }
}
