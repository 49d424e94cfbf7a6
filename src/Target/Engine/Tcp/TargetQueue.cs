using System.Net;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using NvmeMptls.Target.Controllers;
using NvmeMptls.Target.Server;
using NvmeMptls.Target.Subsystems;
using NvmeMptls.Transport.Connections;
using NvmeMptls.Transport.Pdu;

namespace NvmeMptls.Target.Tcp;

/// <summary>
/// One NVMe/TCP connection = one queue. The receive loop reads PDUs, validates capsules and data and starts
/// commands; commands run concurrently and complete into a channel; the send loop turns completions into
/// R2T, C2HData and CapsuleResp PDUs and flushes in batches. One catch ladder maps each failure to a wire
/// action: a TermReq for transport-fatal errors, a plain close when the peer ended it.
/// </summary>
public sealed partial class TargetQueue
{
    private readonly StreamConnection _connection;
    private readonly TargetRegistry _registry;
    private readonly ILogger _logger;
    private readonly PduSettings _settings;
    private readonly PduReader _reader;
    private readonly PduWriter _writer;
    private readonly Channel<SendItem> _send = Channel.CreateUnbounded<SendItem>(new UnboundedChannelOptions { SingleReader = true, AllowSynchronousContinuations = false });
    private readonly CancellationTokenSource _abort = new();
    private readonly object _slotLock = new();
    private readonly Stack<CommandContext> _free = new();
    private CommandContext[] _slots = new CommandContext[1];
    private int _created;
    private int _slotLimit = 1;
    private int _sqHead;
    private TargetController? _controller;
    private ushort _qid;
    private int _sqSize = 1;
    private bool _sqFlowControlDisabled;
    private volatile bool _terminated;
    private TargetNamespace? _metricsNamespace;
    private INamespaceObserver? _metricsNamespaceChildren;

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
        _reader = new PduReader(connection.Input, PduRole.Controller, _settings);
        _writer = new PduWriter(connection.Output, _settings);
    }

    public TargetPortInfo Port { get; }
    public EndPoint? LocalEndPoint => _connection.LocalEndPoint;
    public EndPoint? RemoteEndPoint => _connection.RemoteEndPoint;
    public StreamConnection Connection => _connection;
    public TargetController? Controller => _controller;
    public ushort QueueId => _qid;

    /// <summary>Where completed commands are observed (latency, errors); null when metrics are off.</summary>
    public ITargetObserver? Metrics { get; init; }

    /// <summary>Commands received and not yet answered (AERs, which wait for events, excluded).</summary>
    public int InFlight
    {
        get
        {
            lock (_slotLock)
            {
                return _created - _free.Count - HeldCount();
            }
        }
    }

    private int HeldCount()
    {
        var n = 0;
        for (var i = 0; i < _created; i++)
        {
            if (_slots[i].State == CommandState.Held)
            {
                n++;
            }
        }

        return n;
    }

    /// <summary>Why the connection ended, for logs and the "connection ended because" counter.</summary>
    public string? EndReason { get; private set; }

    /// <summary>Serves the connection until it ends; never throws.</summary>
    public async Task RunAsync(CancellationToken cancellationToken)
    {
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _abort.Token);
        var sendLoop = Task.Run(() => SendLoopAsync(linked.Token), CancellationToken.None);
        Interlocked.Increment(ref _registry.Counters.ConnectionsAccepted);
        try
        {
            await ReceiveLoopAsync(linked.Token).ConfigureAwait(false);
            EndReason ??= "peer closed the connection";
        }
        catch (PduException ex)
        {
            EndReason = $"protocol error: {ex.Message}";
            Log.ProtocolError(_logger, RemoteEndPoint, (ushort)ex.Fes, ex.Fei, ex.Message);
            Terminate(ex.Fes, ex.Fei, _reader.OffendingHeader);
        }
        catch (TermReqReceivedException ex)
        {
            EndReason = ex.Message;
            Interlocked.Increment(ref _registry.Counters.TermReqsReceived);
            Log.TermReqReceived(_logger, RemoteEndPoint, (ushort)ex.Fes, ex.Fei);
        }
        catch (OperationCanceledException)
        {
            EndReason ??= "queue aborted";
        }
        catch (Exception ex) when (ex is IOException or EndOfStreamException or ObjectDisposedException or InvalidOperationException)
        {
            EndReason = $"connection lost: {ex.Message}";
            Log.ConnectionLost(_logger, RemoteEndPoint, ex.Message);
        }
        finally
        {
            _send.Writer.TryComplete();
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

    /// <summary>Ends the connection from our side (controller teardown, shutdown): no TermReq, just close.</summary>
    public Task AbortAsync(string reason)
    {
        EndReason ??= reason;
        _abort.Cancel();
        _connection.Abort(new IOException(reason));
        return Task.CompletedTask;
    }

    private async Task ReceiveLoopAsync(CancellationToken ct)
    {
        if (!await _reader.ReadHeaderAsync(ct).ConfigureAwait(false))
        {
            return;
        }

        OnInitializeConnection();
        while (!_terminated && await _reader.ReadHeaderAsync(ct).ConfigureAwait(false))
        {
            switch (_reader.Common.Type)
            {
                case PduType.CapsuleCmd:
                    await OnCapsuleAsync(ct).ConfigureAwait(false);
                    break;
                case PduType.H2CData:
                    await OnH2CDataAsync(ct).ConfigureAwait(false);
                    break;
                case PduType.H2CTermReq:
                    var term = H2CTermReqPdu.Read(_reader.Header);
                    await _reader.SkipDataAsync(ct).ConfigureAwait(false);
                    throw new TermReqReceivedException(term.Fes, term.Fei);
                default:
                    // NVMe/TCP §3.6.2.2: ICReq is valid only as the first PDU.
                    throw PduException.Sequence($"{_reader.Common.Type} after connection initialization");
            }
        }
    }

    /// <summary>ICReq → ICResp. Reference §1.4.</summary>
    private void OnInitializeConnection()
    {
        if (_reader.Common.Type != PduType.ICReq)
        {
            // NVMe/TCP §3.6.2.2: the first PDU must be an ICReq.
            throw PduException.Sequence($"{_reader.Common.Type} before ICReq");
        }

        var icreq = IcReqPdu.Read(_reader.Header);

        // NVMe/TCP §3.6.2.2: PFV 0 is the only version; HPDA ranges 0..31.
        if (icreq.Pfv != 0)
        {
            throw new PduException(TermReqFes.UnsupportedParameter, IcReqPdu.PfvOffset, $"unsupported PDU format version {icreq.Pfv}");
        }

        if (icreq.Hpda > 31)
        {
            throw PduException.HeaderField(IcReqPdu.HpdaOffset, $"HPDA {icreq.Hpda} out of range 0..31");
        }

        _settings.SendAlignment = icreq.Hpda;
        _settings.HeaderDigest = icreq.HeaderDigest;
        _settings.DataDigest = icreq.DataDigest;
        _send.Writer.TryWrite(SendItem.IcResp(new IcRespPdu(0, 0, icreq.HeaderDigest, icreq.DataDigest, _registry.Limits.MaxH2CData)));
    }

    /// <summary>Queues a TermReq with the offending header and stops reading; the send loop writes it and closes.</summary>
    private void Terminate(TermReqFes fes, uint fei, ReadOnlySpan<byte> offendingHeader)
    {
        _terminated = true;
        Interlocked.Increment(ref _registry.Counters.TermReqsSent);
        Interlocked.Increment(ref _registry.Counters.TermReqsSentByFes[(int)fes & 7]);
        _send.Writer.TryWrite(SendItem.Term(fes, fei, offendingHeader.ToArray()));
    }

    private async Task CloseAsync()
    {
        Interlocked.Increment(ref _registry.Counters.ConnectionsClosed);
        if (_controller is { } c)
        {
            c.DetachQueue(_qid, this);
        }

        lock (_slotLock)
        {
            for (var i = 0; i < _created; i++)
            {
                var ctx = _slots[i];
                if (ctx.State is CommandState.AwaitingData or CommandState.Held)
                {
                    ReleaseLocked(ctx);
                }
            }
        }

        Log.QueueClosed(_logger, RemoteEndPoint, _qid, _controller?.ControllerId ?? 0, EndReason ?? "closed");
        await _connection.DisposeAsync().ConfigureAwait(false);
    }

    private CommandContext? RentSlot()
    {
        lock (_slotLock)
        {
            if (_free.TryPop(out var ctx))
            {
                return ctx;
            }

            if (_created < _slotLimit)
            {
                if (_created == _slots.Length)
                {
                    Array.Resize(ref _slots, Math.Min(_slotLimit, Math.Max(4, _slots.Length * 2)));
                }

                ctx = new CommandContext(this, (ushort)_created);
                _slots[_created++] = ctx;
                return ctx;
            }

            return null;
        }
    }

    private void Release(CommandContext ctx)
    {
        lock (_slotLock)
        {
            ReleaseLocked(ctx);
        }
    }

    private void ReleaseLocked(CommandContext ctx)
    {
        if (ctx.State == CommandState.Free)
        {
            return;
        }

        ctx.Namespace?.Release();
        ctx.Namespace = null;
        ctx.ReturnBuffer();
        ctx.State = CommandState.Free;
        _free.Push(ctx);
    }

    private ushort CurrentSqHead => _sqFlowControlDisabled ? (ushort)0xFFFF : (ushort)Volatile.Read(ref _sqHead);

    private void AdvanceSqHead() => _sqHead = (_sqHead + 1) % _sqSize;

    private static partial class Log
    {
        [LoggerMessage(EventId = 1001, Level = LogLevel.Warning, Message = "Connection {Remote}: protocol error, sending TermReq FES {Fes:x2} FEI {Fei}: {Detail}")]
        public static partial void ProtocolError(ILogger logger, EndPoint? remote, ushort fes, uint fei, string detail);

        [LoggerMessage(EventId = 1002, Level = LogLevel.Warning, Message = "Connection {Remote}: host sent H2CTermReq FES {Fes:x2} FEI {Fei}")]
        public static partial void TermReqReceived(ILogger logger, EndPoint? remote, ushort fes, uint fei);

        [LoggerMessage(EventId = 1003, Level = LogLevel.Information, Message = "Connection {Remote}: lost ({Detail})")]
        public static partial void ConnectionLost(ILogger logger, EndPoint? remote, string detail);

        [LoggerMessage(EventId = 1004, Level = LogLevel.Debug, Message = "Connection {Remote}: queue {Qid} of controller {ControllerId} closed: {Reason}")]
        public static partial void QueueClosed(ILogger logger, EndPoint? remote, ushort qid, ushort controllerId, string reason);

        [LoggerMessage(EventId = 1005, Level = LogLevel.Information, Message = "Connection {Remote}: {Kind} queue {Qid} connected to controller {ControllerId} of {SubsystemNqn} for host {HostNqn}")]
        public static partial void QueueConnected(ILogger logger, EndPoint? remote, string kind, ushort qid, ushort controllerId, string subsystemNqn, string hostNqn);

        [LoggerMessage(EventId = 1006, Level = LogLevel.Warning, Message = "Connection {Remote}: Connect refused ({Status}): {Detail}")]
        public static partial void ConnectRefused(ILogger logger, EndPoint? remote, string status, string detail);

        [LoggerMessage(EventId = 1007, Level = LogLevel.Warning, Message = "Connection {Remote}: data digest error on command {Cid}; completing with Transient Transport Error")]
        public static partial void DataDigestError(ILogger logger, EndPoint? remote, ushort cid);
    }
}
