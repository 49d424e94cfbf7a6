using Microsoft.Extensions.Logging;
using NvmeMptls.Target.Server;

namespace NvmeMptls.Target.Tcp;

/// <summary>
/// Deadlines of a connected queue, so that no peer holds its data buffers (and with them the process-wide budget)
/// for ever:
/// <list type="bullet">
/// <item><see cref="SetupPhase.Data"/>: from an R2T to the last byte of the data it asked for
/// (<see cref="Subsystems.TargetLimits.DataTimeout"/>). A deadline, not an idle timer: a host dripping its H2CData a
/// byte at a time is cut off as surely as a silent one.</item>
/// <item><see cref="SetupPhase.Send"/>: a flush of responses and read data that the socket has not taken within
/// <see cref="Subsystems.TargetLimits.SendStallTimeout"/> (the host does not read its socket; the read data queued
/// behind the flush holds its buffers); likewise read data spliced into the socket's gathered send (no pipe holds it,
/// so no flush waits for it): when some is pending and the socket took none for that long.</item>
/// </list>
/// One periodic timer per connected queue checks both; the I/O path only stamps times (two volatile writes per
/// flush, one per R2T), it allocates nothing. On expiry the connection is closed without a C2HTermReq: no fatal
/// error status describes a timeout (reference §1.5: PDU Sequence Error, Data Transfer Out of Range, Data Transfer
/// Limit Exceeded all name something the host sent; a host would log a protocol violation that did not happen), a
/// host that stopped reading would never see it, and the Linux host treats a closed queue as it treats a TermReq
/// (error recovery, reconnect). Linux nvmet has neither deadline: it waits for R2T data and for its socket for ever
/// (only the keep-alive of the admin queue ends an association, and a host whose admin queue stays healthy keeps
/// its stalled I/O queues).
/// </summary>
public sealed partial class TargetQueue
{
    /// <summary>Sweep period bounds: a deadline fires at most one period late.</summary>
    private static readonly TimeSpan MaxSweepPeriod = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan MinSweepPeriod = TimeSpan.FromMilliseconds(50);

    private readonly object _deadlineLock = new();
    private ITimer? _deadlineTimer;
    private bool _deadlinesStopped;
    private int _deadlineFired;
    private long _flushSince;
    private int _flushing;

    // Read data spliced into the socket's send (TargetQueue.Send.cs) that the socket has not taken yet, and when the
    // socket last took some (or the first was spliced): the send-stall clock for data that bypasses the pipe.
    private int _splicesPending;
    private long _spliceProgressSince;

    /// <summary>Connect succeeded: from now on the data and send deadlines are checked, once per sweep period.</summary>
    private void StartDeadlineSweep()
    {
        lock (_deadlineLock)
        {
            if (_deadlinesStopped || _deadlineTimer is not null)
            {
                return;
            }

            // A deadline that is not positive (Timeout.InfiniteTimeSpan) is off; the service validates both as > 0.
            var limits = _registry.Limits;
            var shortest = !On(limits.DataTimeout) ? limits.SendStallTimeout
                : !On(limits.SendStallTimeout) || limits.DataTimeout < limits.SendStallTimeout ? limits.DataTimeout : limits.SendStallTimeout;
            if (!On(shortest))
            {
                return;
            }

            var period = shortest / 4;
            period = period > MaxSweepPeriod ? MaxSweepPeriod : period < MinSweepPeriod ? MinSweepPeriod : period;
            _deadlineTimer = _registry.Time.CreateTimer(static s => ((TargetQueue)s!).OnDeadlineSweep(), this, period, period);
        }
    }

    /// <summary>The run ended: no sweep runs any more.</summary>
    private void StopDeadlineSweep()
    {
        lock (_deadlineLock)
        {
            _deadlinesStopped = true;
            _deadlineTimer?.Dispose();
            _deadlineTimer = null;
        }
    }

    /// <summary>The send loop hands a batch to the socket and waits for it to be taken (send-stall clock starts).</summary>
    private void FlushStarting()
    {
        Volatile.Write(ref _flushSince, _registry.Time.GetTimestamp());
        Volatile.Write(ref _flushing, 1);
    }

    /// <summary>The socket took the batch.</summary>
    private void FlushDone() => Volatile.Write(ref _flushing, 0);

    private void OnDeadlineSweep()
    {
        var time = _registry.Time;
        var limits = _registry.Limits;
        var now = time.GetTimestamp();
        if (On(limits.SendStallTimeout) && Volatile.Read(ref _flushing) == 1 && time.GetElapsedTime(Volatile.Read(ref _flushSince), now) >= limits.SendStallTimeout)
        {
            Expire(SetupPhase.Send, limits.SendStallTimeout);
            return;
        }

        if (On(limits.SendStallTimeout) && Volatile.Read(ref _splicesPending) > 0
            && time.GetElapsedTime(Volatile.Read(ref _spliceProgressSince), now) >= limits.SendStallTimeout)
        {
            Expire(SetupPhase.Send, limits.SendStallTimeout);
            return;
        }

        if (On(limits.DataTimeout) && _slots.OldestDataPhase() is { } oldest && time.GetElapsedTime(oldest, now) >= limits.DataTimeout)
        {
            Expire(SetupPhase.Data, limits.DataTimeout);
        }
    }

    private static bool On(TimeSpan deadline) => deadline > TimeSpan.Zero;

    private void Expire(SetupPhase phase, TimeSpan limit)
    {
        if (_abort.IsCancellationRequested || Interlocked.Exchange(ref _deadlineFired, 1) != 0)
        {
            return; // already ending for another reason, or already expired
        }

        StopDeadlineSweep();
        Interlocked.Increment(ref _registry.Counters.SetupTimeouts[(int)phase]);
        Log.TransferDeadline(_logger, RemoteEndPoint, _qid, phase, (long)limit.TotalMilliseconds, _buffers.BytesInUse);
        var detail = phase == SetupPhase.Data
            ? $"R2T data not received within {limit.TotalSeconds:0.###} s"
            : $"socket took no pending response within {limit.TotalSeconds:0.###} s";
        _ = AbortAsync(ConnectionEndReason.TransferTimeout, detail);
    }

    internal static partial class Log
    {
        [LoggerMessage(EventId = 3110, Level = LogLevel.Warning, Message = "Connection {Remote}: queue {Qid} missed its {Phase} deadline of {LimitMs} ms holding {BufferedBytes} data buffer bytes; closing")]
        public static partial void TransferDeadline(ILogger logger, System.Net.EndPoint? remote, ushort qid, SetupPhase phase, long limitMs, long bufferedBytes);
    }
}
