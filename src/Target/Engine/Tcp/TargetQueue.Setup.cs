using Microsoft.Extensions.Logging;
using NvmeMptls.Target.Server;

namespace NvmeMptls.Target.Tcp;

/// <summary>
/// Setup deadlines: a new connection has <see cref="Subsystems.TargetLimits.IcReqTimeout"/> to send its ICReq and then
/// <see cref="Subsystems.TargetLimits.ConnectTimeout"/> to be connected. Each is a deadline from the phase's start,
/// not an idle timer, so a peer that trickles a byte a second is cut off all the same.
/// </summary>
public sealed partial class TargetQueue
{
    private readonly object _setupLock = new();
    private ITimer? _setupTimer;
    private SetupPhase? _setupPhase;

    /// <summary>The setup phase the connection is in (null once connected, or when the deadlines are off).</summary>
    public SetupPhase? CurrentSetupPhase
    {
        get
        {
            lock (_setupLock)
            {
                return _setupPhase;
            }
        }
    }

    private void EnterSetupPhase(SetupPhase? phase)
    {
        lock (_setupLock)
        {
            _setupTimer?.Dispose();
            _setupTimer = null;
            _setupPhase = phase;
            if (phase is { } p)
            {
                var limit = SetupLimit(p);
                _setupTimer = _registry.Time.CreateTimer(static s => ((TargetQueue)s!).OnSetupDeadline(), this, limit, Timeout.InfiniteTimeSpan);
            }
        }
    }

    private TimeSpan SetupLimit(SetupPhase phase) =>
        phase == SetupPhase.IcReq ? _registry.Limits.IcReqTimeout : _registry.Limits.ConnectTimeout;

    private void OnSetupDeadline()
    {
        SetupPhase phase;
        lock (_setupLock)
        {
            if (_setupPhase is not { } p)
            {
                return;
            }

            phase = p;
            _setupPhase = null;
        }

        Interlocked.Increment(ref _registry.Counters.SetupTimeouts[(int)phase]);
        var limit = SetupLimit(phase);
        Log.SetupTimeout(_logger, RemoteEndPoint, phase, (long)limit.TotalMilliseconds);
        _ = AbortAsync(ConnectionEndReason.SetupTimeout, $"no {phase} within {limit.TotalSeconds:0.###} s");
    }

    internal static partial class Log
    {
        [LoggerMessage(EventId = 3109, Level = LogLevel.Warning, Message = "Connection {Remote}: setup phase {Phase} not finished within {LimitMs} ms; closing")]
        public static partial void SetupTimeout(ILogger logger, System.Net.EndPoint? remote, SetupPhase phase, long limitMs);
    }
}
