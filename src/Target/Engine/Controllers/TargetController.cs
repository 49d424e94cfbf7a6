using Microsoft.Extensions.Logging;
using NvmeMptls.Target.Commands;
using NvmeMptls.Target.Server;
using NvmeMptls.Target.Subsystems;
using NvmeMptls.Transport.Nvme;

namespace NvmeMptls.Target.Controllers;

/// <summary>
/// One controller of the dynamic controller model, created by an admin Connect: its registers (CC, CSTS),
/// features, keep-alive timer, asynchronous events, error log and queues. Reference §2.3–§2.7.
/// </summary>
public sealed partial class TargetController : IAsyncDisposable
{
    public const uint VersionValue = 0x00010300; // NVMe 1.3.0, as the Linux target reports
    private const int ErrorLogEntries = 64;
    private const byte AsyncEventLimit = 3; // AERL, 0's based: four outstanding AERs

    private readonly ILogger _logger;
    private readonly uint _connectKeepAliveMs;
    private readonly object _lock = new();
    private readonly Dictionary<ushort, ICommandQueue> _queues = [];
    private readonly Queue<CommandContext> _pendingAers = new();
    private readonly Queue<uint> _pendingEvents = new();
    private readonly SortedSet<uint> _changedNamespaces = [];
    private readonly ErrorLogEntry[] _errorLog = new ErrorLogEntry[ErrorLogEntries];
    private ulong _errorCount;
    private ITimer? _keepAliveTimer;
    private long _lastKeepAliveTicks;
    private bool _namespaceNoticeMasked;
    private bool _discoveryNoticeMasked;
    private bool _anaNoticeMasked;
    private int _adminPortId = -1;
    private int _closed;

    internal TargetController(TargetRegistry registry, Subsystem subsystem, ushort controllerId, string hostNqn, Guid hostId, uint kato, ILogger logger)
    {
        Registry = registry;
        Subsystem = subsystem;
        ControllerId = controllerId;
        HostNqn = hostNqn;
        HostId = hostId;
        KeepAliveTimeoutMs = kato;
        _connectKeepAliveMs = kato;
        _logger = logger;
        IoQueueLimit = registry.Limits.MaxIoQueues;
        _lastKeepAliveTicks = registry.Time.GetTimestamp();
    }

    public TargetRegistry Registry { get; }
    public Subsystem Subsystem { get; }
    public ushort ControllerId { get; }
    public string HostNqn { get; }
    public Guid HostId { get; }
    public bool IsDiscovery => Subsystem.IsDiscovery;

    /// <summary>The port of the admin queue (-1 before it attaches): ANA states and notices are this port's.</summary>
    public int AdminPortId => Volatile.Read(ref _adminPortId);

    /// <summary>KATO in milliseconds (0: keep-alive disabled).</summary>
    public uint KeepAliveTimeoutMs { get; private set; }

    public uint ControllerConfiguration { get; private set; }
    public uint ControllerStatus { get; private set; }
    public bool Ready => (ControllerStatus & 1) != 0;
    public bool Closed => Volatile.Read(ref _closed) != 0;

    /// <summary>I/O queues granted by Set Features Number of Queues (count, not 0's based).</summary>
    public int IoQueueLimit { get; private set; }

    public uint AsyncEventConfig { get; private set; }
    public bool VolatileWriteCacheEnabled { get; private set; } = true;

    public int QueueCount
    {
        get
        {
            lock (_lock)
            {
                return _queues.Count;
            }
        }
    }

    /// <summary>CAP: MQES, TO 15 (7.5 s), CSS bit 37 (NVM command set), MPSMIN = MPSMAX = 0 (4 KiB). Reference §2.4.</summary>
    public ulong Capabilities => ControllerRegisters.Capabilities(Registry.Limits.MaxQueueSize, timeout500Ms: 15);

    internal bool TryAttachQueue(ushort qid, ICommandQueue queue)
    {
        lock (_lock)
        {
            if (Closed || !_queues.TryAdd(qid, queue))
            {
                return false;
            }

            if (qid == 0)
            {
                Volatile.Write(ref _adminPortId, queue.Port.Id);
            }

            return true;
        }
    }

    internal void DetachQueue(ushort qid, ICommandQueue queue)
    {
        bool adminGone;
        lock (_lock)
        {
            if (!_queues.TryGetValue(qid, out var current) || current != queue)
            {
                return;
            }

            _queues.Remove(qid);
            adminGone = qid == 0;
        }

        // The association lives as long as its admin queue: when it goes, so does the controller.
        if (adminGone)
        {
            _ = CloseAsync("admin queue closed");
        }
    }

    internal bool HasQueue(ushort qid)
    {
        lock (_lock)
        {
            return _queues.ContainsKey(qid);
        }
    }

    /// <summary>Starts the keep-alive timer (at the admin Connect; CC.EN going 1 restarts the period).</summary>
    internal void StartKeepAlive()
    {
        if (KeepAliveTimeoutMs == 0 || _keepAliveTimer is not null)
        {
            return;
        }

        // Linux rounds KATO up to whole seconds; we check twice per period.
        var period = TimeSpan.FromMilliseconds(Math.Max(250, KeepAliveTimeoutMs / 2));
        _keepAliveTimer = Registry.Time.CreateTimer(static s => ((TargetController)s!).CheckKeepAlive(), this, period, period);
    }

    /// <summary>Any Keep Alive command (and, as TBKAS allows, any admin command) restarts the timer.</summary>
    internal void TouchKeepAlive() => Interlocked.Exchange(ref _lastKeepAliveTicks, Registry.Time.GetTimestamp());

    private void CheckKeepAlive()
    {
        var elapsed = Registry.Time.GetElapsedTime(Interlocked.Read(ref _lastKeepAliveTicks));
        var limit = TimeSpan.FromSeconds(Math.Ceiling(KeepAliveTimeoutMs / 1000.0));
        if (elapsed > limit && !Closed)
        {
            Interlocked.Increment(ref Registry.Counters.KeepAliveExpiries);
            Log.KeepAliveExpired(_logger, ControllerId, HostNqn, (long)elapsed.TotalMilliseconds);
            ControllerStatus |= 2; // CSTS.CFS
            _ = CloseAsync(ConnectionEndReason.KeepAliveExpired, "keep-alive timeout");
        }
    }

    internal void SetKeepAliveTimeout(uint ms)
    {
        KeepAliveTimeoutMs = ms;
        _keepAliveTimer?.Dispose();
        _keepAliveTimer = null;
        TouchKeepAlive();
        StartKeepAlive();
    }

    /// <summary>Property Set CC: enable, reset and shutdown. Reference §2.5.</summary>
    internal void WriteControllerConfiguration(uint value)
    {
        var old = ControllerConfiguration;
        ControllerConfiguration = value;
        var wasEnabled = (old & ControllerRegisters.CcEnable) != 0;
        var enable = (value & ControllerRegisters.CcEnable) != 0;
        if (enable && !wasEnabled)
        {
            // EN 0→1: IOSQES must be 6 and IOCQES 4, MPS 0 (4 KiB), CSS NVM; otherwise Controller Fatal Status.
            var valid = ControllerRegisters.CcIoSqEntrySize(value) == 6 && ControllerRegisters.CcIoCqEntrySize(value) == 4
                && ControllerRegisters.CcMemoryPageSize(value) == 0 && ControllerRegisters.CcCommandSet(value) == 0;
            if (IsDiscovery && ControllerRegisters.CcIoSqEntrySize(value) == 0 && ControllerRegisters.CcIoCqEntrySize(value) == 0)
            {
                valid = true; // discovery hosts may leave the queue entry sizes at 0
            }

            ControllerStatus |= valid ? ControllerRegisters.CstsReady : ControllerRegisters.CstsFatal;
            if (valid)
            {
                TouchKeepAlive();
                StartKeepAlive();
            }
        }
        else if (!enable && wasEnabled)
        {
            ControllerStatus &= ~ControllerRegisters.CstsReady; // reset: not ready
        }

        if (ControllerRegisters.CcShutdownNotification(value) != 0)
        {
            // Shutdown: no new work; in-flight commands finish on their own. SHST = 10b (complete).
            ControllerStatus = (ControllerStatus & ~ControllerRegisters.CstsShutdownMask) | ControllerRegisters.CstsShutdownComplete;
            foreach (var ns in Subsystem.Namespaces)
            {
                _ = ns.Device.FlushAsync().AsTask();
            }
        }
        else
        {
            ControllerStatus &= ~ControllerRegisters.CstsShutdownMask;
        }
    }

    internal bool TryQueueAer(CommandContext ctx)
    {
        uint? ready = null;
        lock (_lock)
        {
            if (_pendingAers.Count > AsyncEventLimit)
            {
                return false;
            }

            if (_pendingEvents.Count > 0)
            {
                ready = _pendingEvents.Dequeue();
            }
            else
            {
                _pendingAers.Enqueue(ctx);
            }
        }

        if (ready is { } dw0)
        {
            ctx.CompleteHeld(NvmeStatus.Success, dw0);
        }

        return true;
    }

    /// <summary>A namespace of our subsystem was added, removed or changed: Namespace Attribute Changed notice.</summary>
    internal void OnNamespaceChanged(uint nsid)
    {
        bool raise;
        lock (_lock)
        {
            if (_changedNamespaces.Count < NamespaceIdList.MaxEntries)
            {
                _changedNamespaces.Add(nsid);
            }

            raise = (AsyncEventConfig & AsyncEvent.ConfigNamespaceAttribute) != 0 && !_namespaceNoticeMasked;
            _namespaceNoticeMasked |= raise;
        }

        if (raise)
        {
            RaiseEvent(AsyncEvent.NamespaceAttributeChanged.ToDw0());
        }
    }

    /// <summary>An ANA state changed on this controller's port, or a namespace moved group: ANA Change notice (NVMe Base 2.0 §8.1.4).</summary>
    internal void OnAnaChanged()
    {
        if (IsDiscovery)
        {
            return;
        }

        bool raise;
        lock (_lock)
        {
            raise = (AsyncEventConfig & AsyncEvent.ConfigAnaChange) != 0 && !_anaNoticeMasked;
            _anaNoticeMasked |= raise;
        }

        if (raise)
        {
            RaiseEvent(AsyncEvent.AnaChange.ToDw0());
        }
    }

    internal void OnDiscoveryLogChanged()
    {
        bool raise;
        lock (_lock)
        {
            raise = (AsyncEventConfig & AsyncEvent.ConfigDiscoveryLogChange) != 0 && !_discoveryNoticeMasked;
            _discoveryNoticeMasked |= raise;
        }

        if (raise)
        {
            RaiseEvent(AsyncEvent.DiscoveryLogChanged.ToDw0());
        }
    }

    private void RaiseEvent(uint dw0)
    {
        CommandContext? aer = null;
        lock (_lock)
        {
            if (_pendingAers.Count > 0)
            {
                aer = _pendingAers.Dequeue();
            }
            else
            {
                _pendingEvents.Enqueue(dw0);
            }
        }

        aer?.CompleteHeld(NvmeStatus.Success, dw0);
    }

    internal void RecordError(ushort sqid, ushort cid, NvmeStatus status, uint nsid)
    {
        lock (_lock)
        {
            _errorCount++;
            var index = (int)(_errorCount % ErrorLogEntries);
            _errorLog[index] = new ErrorLogEntry(_errorCount, sqid, cid, status, nsid);
        }
    }

    /// <summary>Ends the association: every queue's connection closes, held AERs are dropped.</summary>
    public Task CloseAsync(string reason) => CloseAsync(ConnectionEndReason.ControllerClosed, reason);

    /// <summary>Ends the association; each queue's connection ends with <paramref name="endReason"/>.</summary>
    internal async Task CloseAsync(ConnectionEndReason endReason, string reason)
    {
        if (Interlocked.Exchange(ref _closed, 1) != 0)
        {
            return;
        }

        Log.ControllerClosed(_logger, ControllerId, Subsystem.Nqn, HostNqn, reason);
        _keepAliveTimer?.Dispose();
        Subsystem.Detach(this);
        ICommandQueue[] queues;
        lock (_lock)
        {
            queues = [.. _queues.Values];
            _queues.Clear();
            _pendingAers.Clear();
        }

        foreach (var q in queues)
        {
            await q.AbortAsync(endReason, reason).ConfigureAwait(false);
        }
    }

    public ValueTask DisposeAsync() => new(CloseAsync("disposed"));

    internal readonly record struct ErrorLogEntry(ulong Count, ushort SqId, ushort Cid, NvmeStatus Status, uint Nsid);

    private static partial class Log
    {
        [LoggerMessage(EventId = 3201, Level = LogLevel.Warning, Message = "Controller {ControllerId} of host {HostNqn}: keep-alive expired after {ElapsedMs} ms; tearing down")]
        public static partial void KeepAliveExpired(ILogger logger, ushort controllerId, string hostNqn, long elapsedMs);

        [LoggerMessage(EventId = 3202, Level = LogLevel.Information, Message = "Controller {ControllerId} on {SubsystemNqn} for {HostNqn} closed: {Reason}")]
        public static partial void ControllerClosed(ILogger logger, ushort controllerId, string subsystemNqn, string hostNqn, string reason);
    }
}
