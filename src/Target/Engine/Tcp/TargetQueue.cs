using System.Diagnostics.CodeAnalysis;
using System.Net;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using NvmeMptls.Target.Commands;
using NvmeMptls.Target.Controllers;
using NvmeMptls.Target.Server;
using NvmeMptls.Target.Subsystems;
using NvmeMptls.Transport.Connections;
using NvmeMptls.Transport.Pdu;
using NvmeMptls.Transport.Tls;

namespace NvmeMptls.Target.Tcp;

/// <summary>
/// One NVMe/TCP connection = one queue: the transport layer. The receive loop reads PDUs (ICReq, CapsuleCmd,
/// H2CData, H2CTermReq), checks the data pointer, gathers in-capsule or R2T-requested data and hands each complete
/// command to the queue's <see cref="CommandExecutor"/> (Fabrics, admin, I/O), which sends its completion back
/// through <see cref="ICommandQueue.Send"/>; the send loop turns completions into R2T, C2HData and CapsuleResp PDUs
/// and flushes in batches. One catch ladder maps each failure to a wire action — a TermReq for transport-fatal
/// errors, a plain close when the peer ended it — and to a <see cref="ConnectionEndReason"/>.
/// </summary>
[SuppressMessage("Design", "CA1001", Justification = "_abort is cancelled by controllers and the server after the run ends, so it is never disposed; its only timer (CancelAfter after a TermReq) ends by itself; the setup and deadline-sweep timers are disposed when the run ends")]
public sealed partial class TargetQueue : ICommandQueue, IOutputSpliceCompletion
{
    private readonly StreamConnection _connection;
    private readonly TargetRegistry _registry;
    private readonly ILogger _logger;
    private readonly PduSettings _settings;
    private readonly PduReader _reader;
    private readonly PduWriter _writer;
    private readonly Channel<SendItem> _send;
    private readonly CancellationTokenSource _abort = new();
    private readonly CommandExecutor _commands;
    private readonly CommandSlots _slots;
    private readonly ConnectionBuffers _buffers;
    private readonly object _endLock = new();
    private int _sqHead;
    private ushort _qid;
    private int _sqSize = 1;
    private bool _sqFlowControlDisabled;
    private volatile bool _terminated;
    private ConnectionEndReason? _endReason;
    private string _endDetail = "";

    public TargetQueue(StreamConnection connection, TargetRegistry registry, TargetPortInfo port, ILogger logger)
    {
        _connection = connection;
        _registry = registry;
        Port = port;
        _logger = logger;
        _settings = new PduSettings
        {
            MaxInCapsuleData = registry.Limits.AdminInCapsuleDataSize,
            MaxH2CData = registry.Limits.MaxH2CData,
        };
        _burst = registry.Limits.SendMode == QueueSendMode.Burst ? new BurstSender(this) : null;

        // In burst mode two threads read the channel in turn (the receive loop and the send task, whichever holds the writer),
        // the queue is counted without holding it, and the send task's last sweep may overlap a drain handed over to it:
        // that needs the multi-reader channel, whose queue any thread may read and count.
        _send = Channel.CreateUnbounded<SendItem>(new UnboundedChannelOptions { SingleReader = _burst is null, AllowSynchronousContinuations = false });
        _reader = new PduReader(new BurstEndReader(connection.Input, new BurstEnds(this)), PduRole.Controller, _settings);
        _writer = new PduWriter(connection.Output, _settings, connection, batchAdvance: true); // the queue writes its output through _writer alone
        _commands = new CommandExecutor(this, registry, logger);
        _slots = new CommandSlots(_commands);
        _buffers = new ConnectionBuffers(registry.Buffers, registry.Limits, registry.Counters, StartWithBuffer);
    }

    public TargetPortInfo Port { get; }
    public EndPoint? LocalEndPoint => _connection.LocalEndPoint;
    public EndPoint? RemoteEndPoint => _connection.RemoteEndPoint;
    public StreamConnection Connection => _connection;
    public TargetController? Controller => _commands.Controller;
    public ushort QueueId => _qid;

    TlsSessionInfo? ICommandQueue.Tls => _connection.Tls;

    /// <summary>Where completed commands are observed (latency, errors); null when metrics are off.</summary>
    public ITargetObserver? Metrics
    {
        get => _commands.Metrics;
        init => _commands.Metrics = value;
    }

    /// <summary>Data buffer bytes this connection holds now (see <see cref="ConnectionBuffers"/>).</summary>
    public long BufferedBytes => _buffers.BytesInUse;

    /// <summary>Commands received and not yet answered (AERs, which wait for events, excluded).</summary>
    public int InFlight => _slots.InFlight;

    /// <summary>Why the connection ended (the first cause), for the log line and the "connection ended because" counter; null while it runs.</summary>
    public ConnectionEndReason? EndReason
    {
        get
        {
            lock (_endLock)
            {
                return _endReason;
            }
        }
    }

    /// <summary>Serves the connection until it ends; never throws.</summary>
    public async Task RunAsync(CancellationToken cancellationToken)
    {
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _abort.Token);
        var sendLoop = Task.Run(() => SendLoopAsync(linked.Token), CancellationToken.None);
        Interlocked.Increment(ref _registry.Counters.ConnectionsAccepted);
        EnterSetupPhase(SetupPhase.IcReq);
        try
        {
            await ReceiveLoopAsync(linked.Token).ConfigureAwait(false);
            SetEndReason(ConnectionEndReason.HostDisconnected, "peer closed the connection");
        }
        catch (PduException ex)
        {
            SetEndReason(ConnectionEndReason.TermReqSent, $"protocol error: {ex.Message}");
            Log.ProtocolError(_logger, RemoteEndPoint, (ushort)ex.Fes, ex.Fei, ex.Message);
            Terminate(ex.Fes, ex.Fei, _reader.OffendingHeader);
        }
        catch (TermReqReceivedException ex)
        {
            SetEndReason(ConnectionEndReason.TermReqReceived, ex.Message);
            Interlocked.Increment(ref _registry.Counters.TermReqsReceived);
            Log.TermReqReceived(_logger, RemoteEndPoint, (ushort)ex.Fes, ex.Fei);
        }
        catch (OperationCanceledException)
        {
            // Aborts record their own reason first; a bare cancellation means our owner stopped serving.
            SetEndReason(cancellationToken.IsCancellationRequested ? ConnectionEndReason.ServerStopping : ConnectionEndReason.Aborted, "queue aborted");
        }
        catch (TlsRecordException ex)
        {
            SetEndReason(ConnectionEndReason.TlsError, $"TLS {ex.Alert}: {ex.Message}");
            Log.ConnectionLost(_logger, RemoteEndPoint, ex.Message);
        }
        catch (Exception ex) when (ex is IOException or EndOfStreamException or ObjectDisposedException or InvalidOperationException)
        {
            SetEndReason(ConnectionEndReason.ConnectionLost, $"connection lost: {ex.Message}");
            Log.ConnectionLost(_logger, RemoteEndPoint, ex.Message);
        }
        finally
        {
            EnterSetupPhase(null);
            StopDeadlineSweep();
            CompleteSending();
            try
            {
                await sendLoop.WaitAsync(TimeSpan.FromSeconds(5), CancellationToken.None).ConfigureAwait(false);
            }
            catch (Exception ex)
            {
                Log.ConnectionLost(_logger, RemoteEndPoint, ex.Message);
            }

            await CloseAsync().ConfigureAwait(false);
        }
    }

    /// <summary>Ends the connection from our side: no TermReq, just close.</summary>
    public Task AbortAsync(string reason) => AbortAsync(ConnectionEndReason.Aborted, reason);

    /// <summary>Ends the connection from our side (controller teardown, shutdown, TLS key limit): no TermReq, just close.</summary>
    public async Task AbortAsync(ConnectionEndReason reason, string detail)
    {
        SetEndReason(reason, detail);
        await _abort.CancelAsync().ConfigureAwait(false);
        _connection.Abort(new IOException(detail));
    }

    /// <summary>Records why the connection ends; the first cause wins (an abort makes the receive loop fail next).</summary>
    private void SetEndReason(ConnectionEndReason reason, string detail)
    {
        lock (_endLock)
        {
            if (_endReason is null)
            {
                _endReason = reason;
                _endDetail = detail;
            }
        }
    }

    /// <summary>Queues a TermReq with the offending header and stops reading; the send loop writes it and closes.</summary>
    private void Terminate(TermReqFes fes, uint fei, ReadOnlySpan<byte> offendingHeader)
    {
        _terminated = true;
        Interlocked.Increment(ref _registry.Counters.TermReqsSent);
        Interlocked.Increment(ref _registry.Counters.TermReqsSentByFes[(int)fes & 7]);
        Post(SendItem.Term(fes, fei, offendingHeader.ToArray()));
    }

    private async Task CloseAsync()
    {
        SetEndReason(ConnectionEndReason.Aborted, "closed");
        var reason = EndReason!.Value;
        Interlocked.Increment(ref _registry.Counters.ConnectionsClosed);
        Interlocked.Increment(ref _registry.Counters.ConnectionsEndedByReason[(int)reason]);
        _commands.Detach();
        _buffers.Close(); // before the slots: nothing parked starts once they are freed
        _slots.ReleaseUnanswered();
        Log.QueueClosed(_logger, RemoteEndPoint, _qid, Controller?.ControllerId ?? 0, reason, _endDetail);
        await _connection.DisposeAsync().ConfigureAwait(false);
    }

    void ICommandQueue.OnConnected(ushort qid, int sqSize, bool sqFlowControlDisabled)
    {
        _qid = qid;
        _sqSize = sqSize;
        _sqHead = 1 % _sqSize; // the Connect itself took the first entry
        _sqFlowControlDisabled = sqFlowControlDisabled;
        _slots.SetLimit(sqSize);
        EnterSetupPhase(null);
        StartDeadlineSweep();

        // Fabrics commands travel in-capsule on every queue (≥ 8 KiB); I/O queues take the configured size.
        _settings.MaxInCapsuleData = qid == 0
            ? _registry.Limits.AdminInCapsuleDataSize
            : Math.Max(_registry.Limits.InCapsuleDataSize, _registry.Limits.AdminInCapsuleDataSize);
    }

    private ushort CurrentSqHead => _sqFlowControlDisabled ? (ushort)0xFFFF : (ushort)Volatile.Read(ref _sqHead);

    private void AdvanceSqHead() => _sqHead = (_sqHead + 1) % _sqSize;

    internal static partial class Log
    {
        [LoggerMessage(EventId = 3101, Level = LogLevel.Warning, Message = "Connection {Remote}: protocol error, sending TermReq FES {Fes:x2} FEI {Fei}: {Detail}")]
        public static partial void ProtocolError(ILogger logger, EndPoint? remote, ushort fes, uint fei, string detail);

        [LoggerMessage(EventId = 3102, Level = LogLevel.Warning, Message = "Connection {Remote}: host sent H2CTermReq FES {Fes:x2} FEI {Fei}")]
        public static partial void TermReqReceived(ILogger logger, EndPoint? remote, ushort fes, uint fei);

        [LoggerMessage(EventId = 3103, Level = LogLevel.Information, Message = "Connection {Remote}: lost ({Detail})")]
        public static partial void ConnectionLost(ILogger logger, EndPoint? remote, string detail);

        [LoggerMessage(EventId = 3104, Level = LogLevel.Debug, Message = "Connection {Remote}: queue {Qid} of controller {ControllerId} closed: {Reason} ({Detail})")]
        public static partial void QueueClosed(ILogger logger, EndPoint? remote, ushort qid, ushort controllerId, ConnectionEndReason reason, string detail);

        [LoggerMessage(EventId = 3107, Level = LogLevel.Warning, Message = "Connection {Remote}: data digest error on command {Cid}; completing with Transient Transport Error")]
        public static partial void DataDigestError(ILogger logger, EndPoint? remote, ushort cid);
    }
}
