using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using NvmeMptls.Transport.Connections;
using NvmeMptls.Transport.Nvme;
using NvmeMptls.Transport.Nvme.Auth;
using NvmeMptls.Transport.Pdu;

namespace NvmeMptls.Initiator.Queue;

/// <summary>
/// One NVMe/TCP queue pair on one connection, host side. A receive loop (CapsuleResp, C2HData, R2T, C2HTermReq)
/// and a send loop (capsules, H2CData, our TermReq) are kept apart; callers only pick a free command slot and
/// hand it to the send loop. Any protocol error or connection loss ends the queue: every outstanding command
/// fails with <see cref="QueueLostException"/> and the owner is told, so it can recover the controller.
/// </summary>
internal sealed partial class HostQueue : IAsyncDisposable
{
    /// <summary>Fabrics commands and the admin queue may carry this much in-capsule (Linux NVME_TCP_ADMIN_CCSZ).</summary>
    public const int AdminInCapsuleLimit = 8192;

    private const int FlushThreshold = 256 * 1024;

    private readonly StreamConnection _connection;
    private readonly PduReader _reader;
    private readonly PduWriter _writer;
    private readonly CommandContext[] _contexts;
    private readonly int[] _free;
    private readonly Lock _freeLock = new();
    [SuppressMessage("Usage", "CA2213", Justification = "no wait handle is ever created; a command finishing after DisposeAsync still calls Release")]
    private readonly SemaphoreSlim _slots;
    private readonly Channel<SendItem> _sendQueue;
    [SuppressMessage("Usage", "CA2213", Justification = "no timer or linked token; Abort may still cancel it after DisposeAsync")]
    private readonly CancellationTokenSource _stop = new();
    private readonly ILogger _logger;
    private readonly byte[] _termHeader = new byte[128];
    private int _freeCount;
    private int _termHeaderLength;
    private int _failed;
    private volatile bool _closing;
    private Task _receiveLoop = Task.CompletedTask;
    private Task _sendLoop = Task.CompletedTask;
    private ITimer? _watchdog;
    private long _commandTimeoutTicks;
    private readonly Action<HostQueue, Exception>? _onLost;

    private HostQueue(ushort queueId, StreamConnection connection, int slots, int maxOutstanding, bool burst, Action<HostQueue, Exception>? onLost, ILogger logger, TimeProvider time)
    {
        _burst = burst ? new BurstSender(this) : null;
        _onLost = onLost;
        Time = time;
        QueueId = queueId;
        _connection = connection;
        _logger = logger;
        Settings = new PduSettings { MaxC2HData = MaxDataPerPdu };
        // Read data of 16 KiB or more left in a C2HData PDU is received straight into the command's buffer when the
        // connection is a socket (IReceivePlacement; not TLS, whose records must be opened first).
        var placement = connection as IReceivePlacement;
        _reader = new PduReader(_burst is null ? connection.Input : new BurstEndReader(connection.Input, _burst, placement: placement), PduRole.Host, Settings);
        _writer = new PduWriter(connection.Output, Settings, batchAdvance: true); // the queue writes its output through _writer alone
        _contexts = new CommandContext[slots];
        _free = new int[slots];
        for (var i = 0; i < slots; i++)
        {
            _contexts[i] = new CommandContext(this, (ushort)i);
            _free[i] = slots - 1 - i;
        }

        _freeCount = slots;
        MaxOutstanding = Math.Min(maxOutstanding, slots);
        _slots = new SemaphoreSlim(MaxOutstanding, MaxOutstanding);
        // Burst mode: the receive loop and the send task both drain it (taking turns), so it has more than one reader.
        _sendQueue = Channel.CreateUnbounded<SendItem>(new UnboundedChannelOptions { SingleReader = !burst, AllowSynchronousContinuations = false });
    }

    /// <summary>The most C2HData bytes one PDU may carry to us: bounds what a hostile PLEN can make us wait for.</summary>
    public const uint MaxDataPerPdu = 16 * 1024 * 1024;

    public ushort QueueId { get; }

    /// <summary>The controller's clock: command start stamps, the timeout watchdog, the TermReq grace period.</summary>
    public TimeProvider Time { get; }

    /// <summary>What ICReq/ICResp negotiated.</summary>
    public PduSettings Settings { get; }

    /// <summary>Commands that may be outstanding at once (the rest wait for a slot).</summary>
    public int MaxOutstanding { get; }

    /// <summary>Largest write sent in-capsule on this queue (fabrics commands: always up to 8 KiB).</summary>
    public int InCapsuleLimit { get; set; } = AdminInCapsuleLimit;

    /// <summary>The controller id the Connect returned.</summary>
    public ushort ControllerId { get; private set; }

    public bool IsLost => Volatile.Read(ref _failed) != 0;

    /// <summary>Completes when the queue has ended (lost or closed) and every command was failed.</summary>
    public Task Completion => _receiveLoop;

    public StreamConnection Connection => _connection;

    /// <summary>
    /// Opens the stream, exchanges ICReq/ICResp, starts the loops and sends the Fabrics Connect.
    /// Throws <see cref="IOException"/> (with the address and the reason) or <see cref="NvmeStatusException"/> (Connect refused).
    /// </summary>
    public static async Task<HostQueue> ConnectAsync(
        NvmeQueueConnector factory, NvmeQueueEndpoint endpoint, QueueParameters parameters, Action<HostQueue, Exception>? onLost, ILogger logger, CancellationToken cancellationToken)
    {
        using var deadline = new CancellationTokenSource(endpoint.Options.ConnectTimeout, endpoint.Options.TimeProvider);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, deadline.Token);
        var where = $"{endpoint.Address}:{endpoint.Port} queue {endpoint.QueueId}";
        StreamConnection connection;
        try
        {
            connection = QueueConnections.Adopt(await factory(endpoint, timeout.Token).ConfigureAwait(false));
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new IOException($"{where}: no connection within {endpoint.Options.ConnectTimeout.TotalSeconds:0.#} s");
        }

#pragma warning disable CA2000 // false positive: every catch below disposes it, and success hands it to the caller
        var burst = endpoint.QueueId != 0 && endpoint.Options.CompletionMode == NvmeCompletionMode.Inline;
        var queue = new HostQueue(endpoint.QueueId, connection, parameters.Slots, parameters.MaxOutstanding, burst, onLost, logger, endpoint.Options.TimeProvider);
#pragma warning restore CA2000
        try
        {
            await queue.ExchangeInitializeAsync(endpoint.Options.HeaderDigest, endpoint.Options.DataDigest, where, timeout.Token).ConfigureAwait(false);
            queue.Start(parameters.CommandTimeout);
            await queue.SendConnectAsync(parameters, where, timeout.Token).ConfigureAwait(false);
            Log.QueueConnected(logger, endpoint.QueueId, endpoint.Address, endpoint.Port, queue.ControllerId, queue.Settings.HeaderDigest, queue.Settings.DataDigest, queue.Settings.MaxH2CData);
            return queue;
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            await queue.DisposeAsync().ConfigureAwait(false);
            throw new IOException($"{where}: no answer within {endpoint.Options.ConnectTimeout.TotalSeconds:0.#} s");
        }
        catch (QueueLostException ex)
        {
            await queue.DisposeAsync().ConfigureAwait(false);
            throw new IOException($"{where}: connection lost during Connect: {ex.InnerException?.Message ?? ex.Message}", ex);
        }
        catch
        {
            await queue.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>
    /// Sends one command and waits for its completion. The command id and data pointer are filled in here.
    /// Once sent, a command cannot be cancelled: it ends with its completion or with the queue.
    /// </summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<NvmeCompletion> SubmitAsync(NvmeCommand command, Memory<byte> readBuffer, ReadOnlyMemory<byte> writeData, CancellationToken cancellationToken)
    {
        if (IsLost)
        {
            throw new QueueLostException(QueueId, null);
        }

        await _slots.WaitAsync(cancellationToken).ConfigureAwait(false);
        if (IsLost)
        {
            _slots.Release();
            throw new QueueLostException(QueueId, null);
        }

        var context = Send(command, readBuffer, writeData, null);
        return await context.AsValueTask().ConfigureAwait(false);
    }

    /// <summary>
    /// The allocation-free form of <see cref="SubmitAsync"/> for the I/O path: sends only when the queue is live and a
    /// slot is free right now (false otherwise: use <see cref="SubmitAsync"/>). The end of the command goes to
    /// <paramref name="sink"/> on a thread-pool thread, a lost queue as a <see cref="QueueLostException"/>.
    /// </summary>
    internal bool TrySubmit(in NvmeCommand command, Memory<byte> readBuffer, ReadOnlyMemory<byte> writeData, ICommandSink sink)
    {
        if (IsLost || !_slots.Wait(0))
        {
            return false;
        }

        if (IsLost)
        {
            _slots.Release();
            return false;
        }

        Send(command, readBuffer, writeData, sink);
        return true;
    }

    /// <summary>Takes a free slot (the caller holds one of <c>_slots</c>), fills in command id and data pointer, queues the command.</summary>
    private CommandContext Send(NvmeCommand command, Memory<byte> readBuffer, ReadOnlyMemory<byte> writeData, ICommandSink? sink)
    {
        CommandContext context;
        lock (_freeLock)
        {
            context = _contexts[_free[--_freeCount]];
        }

        command.CommandId = context.CommandId;
        command.Flags |= NvmeCommand.PsdtSgl;
        command.SglAddress = 0;
        var inCapsule = false;
        if (!writeData.IsEmpty)
        {
            var limit = command.Opcode == FabricsOpcodes.Fabrics ? AdminInCapsuleLimit : InCapsuleLimit;
            inCapsule = writeData.Length <= limit;
            command.SglLength = (uint)writeData.Length;
            command.SglIdentifier = inCapsule ? SglDescriptor.InCapsuleIdentifier : SglDescriptor.TransportIdentifier;
        }
        else
        {
            command.SglLength = (uint)readBuffer.Length;
            command.SglIdentifier = SglDescriptor.TransportIdentifier;
        }

        context.Begin(command, readBuffer, writeData, inCapsule, sink);
        if (!Post(new SendItem(SendKind.Command, context, 0, 0, 0)))
        {
            context.TryFail(new QueueLostException(QueueId, null));
        }

        return context;
    }

    /// <summary>Returns a finished slot to the pool (called by the slot once its result was taken).</summary>
    internal void Release(CommandContext context)
    {
        lock (_freeLock)
        {
            _free[_freeCount++] = context.CommandId;
        }

        _slots.Release();
    }

    /// <summary>Ends the queue at once (RST where possible); outstanding commands fail with <see cref="QueueLostException"/>.</summary>
    public void Abort(Exception reason)
    {
        _stop.Cancel();
        _connection.Input.CancelPendingRead();
        _connection.Abort(reason);
    }

    /// <summary>Closes on purpose: the owner is not told; outstanding commands fail.</summary>
    public async ValueTask DisposeAsync()
    {
        _closing = true;
        CompleteSending();
        await _stop.CancelAsync().ConfigureAwait(false);

        // Let the send loop leave the output pipe before the connection completes it (see FailAllAsync); in burst mode the
        // receive loop may be writing a burst's commands too.
        await Task.WhenAny(_sendLoop, Task.Delay(TimeSpan.FromSeconds(1), Time)).ConfigureAwait(false);
        CloseWriter();
        _connection.Input.CancelPendingRead();
        await CloseConnectionAsync().ConfigureAwait(false);
        // The loop reports through the commands it fails; closing only waits for its end.
        await _receiveLoop.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);

        if (_receiveLoop == Task.CompletedTask)
        {
            await FailAllAsync(new ObjectDisposedException(nameof(HostQueue)), null).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Disposes the connection; a failure to close (a TLS layer over an aborted carrier, a custom connector's pipe) is
    /// logged and the queue's end goes on: its commands must still be failed and its owner told.
    /// </summary>
    private async ValueTask CloseConnectionAsync()
    {
        try
        {
            await _connection.DisposeAsync().ConfigureAwait(false);
        }
#pragma warning disable CA1031 // whatever the connection's end was, closing must finish; the cause is logged
        catch (Exception ex)
#pragma warning restore CA1031
        {
            Log.QueueCloseError(_logger, QueueId, ex.GetType().Name, ex.Message);
        }
    }

    private void Start(TimeSpan commandTimeout)
    {
        _sendLoop = _burst is null ? Task.Run(SendLoopAsync) : Task.Run(BurstSendLoopAsync);
        _receiveLoop = Task.Run(ReceiveLoopAsync);
        if (commandTimeout > TimeSpan.Zero)
        {
            var period = commandTimeout < TimeSpan.FromSeconds(4) ? commandTimeout / 4 : TimeSpan.FromSeconds(1);
            _commandTimeoutTicks = (long)(commandTimeout.TotalSeconds * Time.TimestampFrequency);
            _watchdog = Time.CreateTimer(static state => ((HostQueue)state!).CheckTimeouts(), this, period, period);
        }
    }

    /// <summary>Like the Linux host's request timeout: an overdue command resets the queue (and the controller).</summary>
    private void CheckTimeouts()
    {
        var now = Time.GetTimestamp();
        foreach (var context in _contexts)
        {
            if (context.IsActive && !context.Unbounded && now - context.StartedAt > _commandTimeoutTicks)
            {
                Log.CommandTimedOut(_logger, QueueId, context.CommandId, context.Command.Opcode);
                Abort(new TimeoutException($"command {context.CommandId} (opcode 0x{context.Command.Opcode:x2}) on queue {QueueId} timed out"));
                return;
            }
        }
    }

    private async Task ExchangeInitializeAsync(bool headerDigest, bool dataDigest, string where, CancellationToken cancellationToken)
    {
        _writer.WriteIcReq(new IcReqPdu(0, 0, headerDigest, dataDigest, 0));
        await _writer.FlushAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (!await _reader.ReadHeaderAsync(cancellationToken).ConfigureAwait(false))
            {
                throw new IOException(_connection.Tls is null
                    ? $"{where}: the controller closed the connection instead of answering ICReq (does the port require TLS? try --tls)"
                    : $"{where}: the controller closed the connection instead of answering ICReq");
            }

            ValidateIcResp(headerDigest, dataDigest);
        }
        catch (PduException ex)
        {
            Log.TermReqSent(_logger, QueueId, (ushort)ex.Fes, ex.Fei, ex.Message);
            _writer.WriteTermReq(PduRole.Host, ex.Fes, ex.Fei, _reader.OffendingHeader);
            await _writer.FlushAsync(CancellationToken.None).ConfigureAwait(false);
            throw new IOException($"{where}: refused the controller's ICResp: {ex.Message}", ex);
        }
        catch (EndOfStreamException ex)
        {
            throw new IOException($"{where}: the controller closed the connection during ICReq/ICResp", ex);
        }
    }

    private void ValidateIcResp(bool headerDigest, bool dataDigest)
    {
        // Reference §1.4: the first PDU from the controller must be the ICResp.
        if (_reader.Common.Type != PduType.ICResp)
        {
            throw PduException.Sequence($"expected ICResp, got {_reader.Common.Type}");
        }

        var resp = IcRespPdu.Read(_reader.Header);

        // §1.4: PFV must be 0.
        if (resp.Pfv != 0)
        {
            throw new PduException(TermReqFes.UnsupportedParameter, IcRespPdu.PfvOffset, $"ICResp PFV {resp.Pfv}, only 0 is supported");
        }

        // §1.4 (Linux host): the controller must enable exactly the digests we asked for.
        if (resp.HeaderDigest != headerDigest || resp.DataDigest != dataDigest)
        {
            throw PduException.HeaderField(IcRespPdu.DgstOffset,
                $"ICResp digests header={resp.HeaderDigest} data={resp.DataDigest}, requested header={headerDigest} data={dataDigest}");
        }

        // §1.9: CPDA is 0..31 (alignment up to 128 bytes); we pad what we send to it.
        if (resp.Cpda > 31)
        {
            throw new PduException(TermReqFes.UnsupportedParameter, IcRespPdu.CpdaOffset, $"ICResp CPDA {resp.Cpda} is above 31");
        }

        // §1.4 (Linux NVME_TCP_MIN_MAXH2CDATA): at least 4096 and a multiple of 4.
        if (resp.MaxH2CData < IcRespPdu.MinMaxH2CData || resp.MaxH2CData % 4 != 0)
        {
            throw PduException.HeaderField(IcRespPdu.MaxH2CDataOffset, $"ICResp MAXH2CDATA {resp.MaxH2CData} must be >= 4096 and a multiple of 4");
        }

        Settings.HeaderDigest = headerDigest;
        Settings.DataDigest = dataDigest;
        Settings.SendAlignment = resp.Cpda;
        Settings.MaxH2CData = resp.MaxH2CData;
    }

    private async Task SendConnectAsync(QueueParameters p, string where, CancellationToken cancellationToken)
    {
        var data = new byte[ConnectData.Size];
        new ConnectData(p.HostId, p.ControllerId, p.SubsystemNqn, p.HostNqn).Write(data);
        var command = new ConnectCommand(QueueId, p.SqSize, 0, p.KeepAliveMilliseconds).ToCommand();
        var completion = await SubmitAsync(command, default, data, cancellationToken).ConfigureAwait(false);
        if (!completion.Status.IsSuccess)
        {
            throw new NvmeStatusException(completion.Status, $"{where}: Connect to {p.SubsystemNqn} as {p.HostNqn} refused{DescribeConnectFailure(completion)}");
        }

        // Reference §2.3/§5: ATR asks for in-band authentication before anything else on this queue; ASCR asks for secure
        // channel concatenation (TP 8018), which this queue does only when the host was told to (as the Linux host).
        var response = new ConnectResponse(completion.Dw0);
        if (response.SecureChannelRequired && p.SecureChannel == NegotiateMessage.NoSecureChannel)
        {
            throw new NvmeAuthenticationException($"{where}: the controller requires secure channel concatenation (Connect DW0 0x{completion.Dw0:x8}); connect with --concat", 0, rejectedByController: false);
        }

        ControllerId = response.ControllerId;
        if (response.AuthenticationRequired)
        {
            GeneratedPsk = await AuthenticateAsync(p, p.SecureChannel, where, cancellationToken).ConfigureAwait(false);
        }
    }

    private static string DescribeConnectFailure(in NvmeCompletion completion)
    {
        if (!completion.Status.Is(NvmeStatusCodes.ConnectInvalidParameters))
        {
            return "";
        }

        var response = new ConnectResponse(completion.Dw0);
        var hint = response.Dw0 == ConnectResponse.InvalidSubsystemNqn ? " (unknown subsystem?)" : "";
        return $" (invalid {response.InvalidParameterName}{hint})";
    }

    private readonly record struct SendItem(SendKind Kind, CommandContext? Context, ushort TransferTag, uint Offset, uint Length);

    private enum SendKind : byte
    {
        Command,
        R2TData,
        TermReq,

        /// <summary>The queue is stopping: the send loop ends (posted when the stop token fires).</summary>
        Stop,
    }
}

/// <summary>What a queue's Connect carries and how many command slots it gets.</summary>
internal sealed record QueueParameters(
    Guid HostId, string HostNqn, string SubsystemNqn, ushort ControllerId, ushort SqSize, uint KeepAliveMilliseconds, int Slots, int MaxOutstanding, TimeSpan CommandTimeout,
    string? DhChapSecret = null, string? DhChapControllerSecret = null, byte SecureChannel = NegotiateMessage.NoSecureChannel)
{
    // Keep the secrets out of any log line or exception message that prints the parameters.
    public override string ToString() => $"QueueParameters {{ HostNqn = {HostNqn}, SubsystemNqn = {SubsystemNqn}, ControllerId = {ControllerId}, SqSize = {SqSize} }}";
}
