namespace NvmeMptls.Initiator;

/// <summary>How one queue of a controller is carried: transport, MPTCP state with subflows, TLS session.</summary>
/// <param name="QueueId">0 for the admin queue, 1.. for I/O queues.</param>
/// <param name="Transport">"tcp", "mptcp", "tcp (mptcp fallback)", "tls/mptcp"…</param>
/// <param name="Multipath">The live MPTCP state (mode, fallback reason, subflows), or null for non-socket carriers.</param>
/// <param name="Tls">The TLS session, or null without TLS.</param>
public sealed record QueuePath(ushort QueueId, string Transport, QueueMultipathInfo? Multipath, QueueTlsInfo? Tls);

public sealed partial class NvmeController
{
    /// <summary>A snapshot of every queue's carrier (admin first), for status displays and metrics.</summary>
    public IReadOnlyList<QueuePath> GetQueuePaths()
    {
        var association = _current ?? _last;
        if (association is null)
        {
            return [];
        }

        var list = new List<QueuePath>(association.Io.Length + 1) { Describe(0, association.Admin) };
        for (var i = 0; i < association.Io.Length; i++)
        {
            list.Add(Describe((ushort)(i + 1), association.Io[i]));
        }

        return list;
    }

    private static QueuePath Describe(ushort qid, Queue.HostQueue queue)
    {
        var c = queue.Connection;
        return new QueuePath(qid, c.TransportName, QueueMultipathInfo.From(c.GetMultipathStatus()), QueueTlsInfo.From(c.Tls));
    }
}
