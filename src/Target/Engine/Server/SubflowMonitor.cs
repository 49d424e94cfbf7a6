using System.Net;
using Microsoft.Extensions.Logging;
using NvmeMptls.Target.Tcp;
using NvmeMptls.Transport.Multipath;

namespace NvmeMptls.Target.Server;

/// <summary>
/// Watches the MPTCP subflows of every live connection (once a second), logs each subflow that appears or
/// disappears, and keeps the last snapshot per connection for status and metrics.
/// </summary>
public sealed partial class SubflowMonitor : IDisposable
{
    private readonly NvmeTargetServer _server;
    private readonly ILogger _logger;
    private readonly ITimer _timer;
    private readonly object _lock = new();
    private readonly Dictionary<TargetQueue, MultipathStatus> _last = [];

    public SubflowMonitor(NvmeTargetServer server, ILogger logger, TimeProvider? time = null, TimeSpan? period = null)
    {
        _server = server;
        _logger = logger;
        var p = period ?? TimeSpan.FromSeconds(1);
        _timer = (time ?? TimeProvider.System).CreateTimer(static s => ((SubflowMonitor)s!).Sample(), this, p, p);
    }

    /// <summary>The latest multipath snapshot of each live connection.</summary>
    public IReadOnlyDictionary<TargetQueue, MultipathStatus> Snapshot
    {
        get
        {
            lock (_lock)
            {
                return new Dictionary<TargetQueue, MultipathStatus>(_last);
            }
        }
    }

    /// <summary>Takes one sample now (the timer calls this every period).</summary>
    public void Sample()
    {
        lock (_lock)
        {
            var live = new HashSet<TargetQueue>();
            foreach (var (queue, transport) in _server.Connections)
            {
                live.Add(queue);
                var status = transport.GetMultipathStatus();
                if (status is null || status.Mode != TransportMode.Mptcp)
                {
                    continue;
                }

                if (_last.TryGetValue(queue, out var previous))
                {
                    Compare(queue, previous, status);
                }

                _last[queue] = status;
            }

            foreach (var gone in _last.Keys.Where(q => !live.Contains(q)).ToList())
            {
                _last.Remove(gone);
            }
        }
    }

    private void Compare(TargetQueue queue, MultipathStatus previous, MultipathStatus current)
    {
        foreach (var s in current.Subflows)
        {
            if (!Contains(previous, s.Local, s.Remote))
            {
                Log.SubflowAdded(_logger, queue.RemoteEndPoint, queue.QueueId, s.Local, s.Remote, current.Subflows.Count);
            }
        }

        foreach (var s in previous.Subflows)
        {
            if (!Contains(current, s.Local, s.Remote))
            {
                Log.SubflowRemoved(_logger, queue.RemoteEndPoint, queue.QueueId, s.Local, s.Remote, current.Subflows.Count);
            }
        }
    }

    private static bool Contains(MultipathStatus status, IPEndPoint local, IPEndPoint remote)
    {
        foreach (var s in status.Subflows)
        {
            if (s.Local.Equals(local) && s.Remote.Equals(remote))
            {
                return true;
            }
        }

        return false;
    }

    public void Dispose() => _timer.Dispose();

    private static partial class Log
    {
        [LoggerMessage(EventId = 3011, Level = LogLevel.Information, Message = "Connection {Remote} (queue {Qid}): MPTCP subflow added {Local} -> {SubflowRemote}; {Count} subflow(s) now")]
        public static partial void SubflowAdded(ILogger logger, EndPoint? remote, ushort qid, IPEndPoint local, IPEndPoint subflowRemote, int count);

        [LoggerMessage(EventId = 3012, Level = LogLevel.Warning, Message = "Connection {Remote} (queue {Qid}): MPTCP subflow removed {Local} -> {SubflowRemote}; {Count} subflow(s) left")]
        public static partial void SubflowRemoved(ILogger logger, EndPoint? remote, ushort qid, IPEndPoint local, IPEndPoint subflowRemote, int count);
    }
}
