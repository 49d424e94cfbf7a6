using System.Runtime.CompilerServices;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using NvmeMptls.Initiator.Queue;
using NvmeMptls.Initiator.Transport;
using NvmeMptls.Transport.Nvme;

namespace NvmeMptls.Initiator;

/// <summary>
/// An NVMe over TCP controller, host side: one admin queue and <see cref="IoQueueCount"/> I/O queues, each on
/// its own connection. Keeps itself alive (Keep Alive, one AER outstanding) and, when a connection drops,
/// reconnects after <see cref="NvmeControllerOptions.ReconnectDelay"/> and resubmits the commands that were
/// in flight, until <see cref="NvmeControllerOptions.ControllerLossTimeout"/> runs out. Thread-safe.
/// </summary>
public sealed partial class NvmeController : IAsyncDisposable
{
    private readonly NvmeQueueConnector _factory;
    private readonly ILogger _logger;
    private readonly Lock _lock = new();
    private readonly CancellationTokenSource _closing = new();
    private readonly Action<HostQueue, Exception> _onQueueLost;
    private Association? _current;
    private Association? _last;
    private TaskCompletionSource _live = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private NvmeControllerState _state = NvmeControllerState.Connecting;
    private Exception? _failure;
    private Task _recovery = Task.CompletedTask;
    private int _nextQueue;

    private NvmeController(NvmeControllerOptions options, NvmeQueueConnector factory, ILogger logger)
    {
        Options = options;
        _factory = factory;
        _logger = logger;
        _onQueueLost = OnQueueLost;
    }

    /// <summary>Raised after every state change (on the thread that caused it; keep handlers short).</summary>
    public event EventHandler<NvmeControllerStateChange>? StateChanged;

    /// <summary>Raised when the controller reports a namespace attribute change (AER notice + log 04h).</summary>
    public event EventHandler<NvmeNamespacesChange>? NamespacesChanged;

    /// <summary>The options this controller was connected with.</summary>
    public NvmeControllerOptions Options { get; }

    /// <summary>Controller id of the current association (changes on every reconnect).</summary>
    public ushort ControllerId => Current.ControllerId;

    /// <summary>Identify Controller data of the current association.</summary>
    public NvmeControllerInfo Identify => Current.Info;

    /// <summary>The CAP property.</summary>
    public ulong Capabilities => Current.Capabilities;

    /// <summary>The VS property (major in bits 31:16, minor in 15:8).</summary>
    public uint Version => Current.Version;

    /// <summary>I/O queues in use: min(requested, granted by the controller).</summary>
    public int IoQueueCount => Current.Io.Length;

    /// <summary>Entries per I/O queue in use (after the CAP.MQES and MAXCMD clamps).</summary>
    public int QueueSize { get; private set; }

    /// <summary>Where the controller is in its life cycle.</summary>
    public NvmeControllerState State
    {
        get
        {
            lock (_lock)
            {
                return _state;
            }
        }
    }

    /// <summary>The live association, or during a reset the last one (its identity stays readable).</summary>
    private Association Current => _current ?? _last ?? throw new InvalidOperationException($"controller is {State}");

    /// <summary>
    /// Connects the admin queue, enables the controller, identifies it and connects the I/O queues.
    /// </summary>
    /// <param name="options">Where and how to connect; validated first.</param>
    /// <param name="connectionFactory">Opens each queue's stream; null for <see cref="NvmeConnectionFactory"/> (TCP/MPTCP per policy, TLS when asked).</param>
    /// <param name="logger">Optional logger.</param>
    /// <param name="cancellationToken">Cancels the connect.</param>
    /// <exception cref="IOException">A connection could not be made or the controller broke the protocol.</exception>
    /// <exception cref="NvmeStatusException">The controller refused a bring-up command (e.g. Connect with an unknown NQN).</exception>
    public static async Task<NvmeController> ConnectAsync(
        NvmeControllerOptions options, NvmeQueueConnector? connectionFactory = null, ILogger? logger = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        var controller = new NvmeController(options, connectionFactory ?? NvmeConnectionFactory.Instance, logger ?? NullLogger.Instance);
        controller.WarnAboutPaths();
        var association = await controller.BringUpAsync(cancellationToken).ConfigureAwait(false);
        controller.BecomeLive(association);
        return controller;
    }

    /// <summary>
    /// Sends a raw admin command (tools, passthrough). <paramref name="data"/> is read into or written from,
    /// per <paramref name="direction"/>. The completion is returned whatever its status.
    /// </summary>
    internal ValueTask<NvmeCompletion> SubmitAdminAsync(NvmeCommand command, Memory<byte> data, DataDirection direction, CancellationToken cancellationToken = default) =>
        SubmitAsync(-1, command, direction == DataDirection.ControllerToHost ? data : default, direction == DataDirection.HostToController ? data : default, cancellationToken);

    /// <summary>Sends a raw I/O command on one of the I/O queues (round robin); see <see cref="SubmitAdminAsync"/>.</summary>
    internal ValueTask<NvmeCompletion> SubmitIoAsync(NvmeCommand command, Memory<byte> data, DataDirection direction, CancellationToken cancellationToken = default) =>
        SubmitAsync(NextQueue(), command, direction == DataDirection.ControllerToHost ? data : default, direction == DataDirection.HostToController ? data : default, cancellationToken);

    internal int NextQueue() => Interlocked.Increment(ref _nextQueue) & int.MaxValue;

    /// <summary>Like the Linux host: Transient Transport Error and Command Interrupted are retried unless DNR.</summary>
    internal static bool IsRetryable(NvmeStatus status)
    {
        return !status.DoNotRetry && status.Code is NvmeStatusCodes.TransientTransportError or NvmeStatusCodes.CommandInterrupted;
    }

    /// <summary>Says plainly, once per controller, when this host's path manager cannot give the expected paths.</summary>
    private void WarnAboutPaths()
    {
        if (Options.Multipath == NvmeMultipathPolicy.Disabled || !_logger.IsEnabled(LogLevel.Warning))
        {
            return;
        }

        foreach (var warning in NvmeMptls.Transport.Multipath.PathManagerState.Read(Options.NetworkNamespace).WarningsFor(Options.ExpectedPaths))
        {
            Log.PathWarning(_logger, Options.ExpectedPaths, warning);
        }
    }

    private static HostQueue Pick(Association association, int queue) =>
        queue < 0 || association.Io.Length == 0 ? association.Admin : association.Io[queue % association.Io.Length];

    /// <summary>Slow path: the association is gone or going. Starts recovery if nobody has, then waits for it.</summary>
    private async ValueTask<Association> WaitLiveAsync(Association? seen, CancellationToken cancellationToken)
    {
        while (true)
        {
            Task live;
            lock (_lock)
            {
                ThrowIfUnusable();
                var current = _current;
                if (current is not null && current != seen && !current.AdminLost)
                {
                    return current;
                }

                if (current is not null)
                {
                    BeginRecoveryLocked(current, new IOException("a queue was lost"));
                }

                live = _live.Task;
            }

            try
            {
                await live.WaitAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (IOException)
            {
                lock (_lock)
                {
                    ThrowIfUnusable();
                }
            }

            seen = null;
        }
    }

    private void ThrowIfUnusable()
    {
        ObjectDisposedException.ThrowIf(_state == NvmeControllerState.Closed, this);

        if (_state == NvmeControllerState.Failed)
        {
            throw new IOException($"controller {Options.SubsystemNqn} at {Options.TargetAddress}:{Options.TargetPort} lost: {_failure?.Message}", _failure);
        }
    }

    private void BecomeLive(Association association)
    {
        NvmeControllerState previous;
        lock (_lock)
        {
            if (_state == NvmeControllerState.Closed)
            {
                _ = association.TearDownAsync().AsTask();
                return;
            }

            _current = association;
            _last = association;
            previous = SetStateLocked(NvmeControllerState.Live);
            _live.TrySetResult();
        }

        StartBackground(association);
        Log.ControllerLive(_logger, association.ControllerId, Options.SubsystemNqn, Options.TargetAddress, Options.TargetPort, association.Io.Length, QueueSize);
        RaiseStateChanged(previous, NvmeControllerState.Live, null);
    }

    /// <summary>
    /// The only writer of the state: checks the transition against the life cycle, logs it and returns the state
    /// before. Called with <see cref="_lock"/> held; the caller raises <see cref="StateChanged"/> after releasing it.
    /// </summary>
    /// <exception cref="InvalidOperationException">The transition is not part of the life cycle (a bug in the caller).</exception>
    private NvmeControllerState SetStateLocked(NvmeControllerState next)
    {
        var previous = _state;
        if (!IsLegal(previous, next))
        {
            throw new InvalidOperationException($"controller state {previous} -> {next} is not a legal transition");
        }

        _state = next;
        Log.StateChanged(_logger, previous, next);
        return previous;
    }

    /// <summary>Connecting → Live; Live ⇄ Resetting; Resetting → Failed; any state but Closed → Closed.</summary>
    internal static bool IsLegal(NvmeControllerState from, NvmeControllerState to) => (from, to) switch
    {
        (NvmeControllerState.Connecting, NvmeControllerState.Live) => true,
        (NvmeControllerState.Live, NvmeControllerState.Resetting) => true,
        (NvmeControllerState.Resetting, NvmeControllerState.Live or NvmeControllerState.Failed) => true,
        (not NvmeControllerState.Closed, NvmeControllerState.Closed) => true,
        _ => false,
    };

    private void RaiseStateChanged(NvmeControllerState previous, NvmeControllerState current, Exception? reason) =>
        StateChanged?.Invoke(this, new NvmeControllerStateChange(previous, current, reason));

    /// <summary>Shuts the controller down (CC.SHN = normal, wait for SHST complete up to 5 s) and closes every queue.</summary>
    public async ValueTask DisposeAsync()
    {
        Association? association;
        NvmeControllerState previous;
        lock (_lock)
        {
            if (_state == NvmeControllerState.Closed)
            {
                return;
            }

            previous = SetStateLocked(NvmeControllerState.Closed);
            association = _current;
            _current = null;
            _live.TrySetException(new ObjectDisposedException(nameof(NvmeController)));
        }

        await _closing.CancelAsync().ConfigureAwait(false);
        if (association is not null)
        {
            await ShutdownAsync(association).ConfigureAwait(false);
            await association.TearDownAsync().ConfigureAwait(false);
        }

        try
        {
            await _recovery.ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // recovery stops when we close
        }

        RaiseStateChanged(previous, NvmeControllerState.Closed, null);
        _closing.Dispose();
    }
}
