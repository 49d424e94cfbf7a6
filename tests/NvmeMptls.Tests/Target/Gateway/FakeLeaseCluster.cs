using NvmeMptls.Target.Gateway;

namespace NvmeMptls.Tests.Target.Gateway;

/// <summary>
/// A fake of one RADOS lease object for the state machine's unit tests only (the integration tests use real Ceph):
/// cls_lock's rules — an exclusive locker that expires at send time + duration on the cluster's clock, EBUSY for
/// another cookie, ENOENT for MUST_RENEW by a non-holder, ESHUTDOWN for a blocklisted client — and a log of the
/// operations in order, so a test can check that fencing comes before locking.
/// </summary>
internal sealed class FakeLeaseCluster(TimeProvider time)
{
    private readonly object _lock = new();
    private string? _holder;
    private string? _holderClient;
    private long _expires;

    public List<string> Operations { get; } = [];

    public HashSet<string> Blocklist { get; } = new(StringComparer.Ordinal);

    public string? OwnerAttribute { get; private set; }

    public string? ReleasedAttribute { get; private set; }

    public string? Holder
    {
        get
        {
            lock (_lock)
            {
                Expire();
                return _holder;
            }
        }
    }

    public Client Connect(string address) => new(this, address);

    private void Expire()
    {
        if (_holder is not null && time.GetTimestamp() >= _expires)
        {
            Operations.Add($"expired {_holder.Split(';')[0]}");
            _holder = _holderClient = null;
        }
    }

    internal sealed class Client(FakeLeaseCluster cluster, string address) : IGatewayLeaseStore
    {
        /// <summary>When set, every call waits for it (a cluster that does not answer); the test releases it.</summary>
        public ManualResetEventSlim? Hang { get; set; }

        /// <summary>When true, every call fails as an unreachable cluster does.</summary>
        public bool Unreachable { get; set; }

        public string ClientAddress => address;

        public LeaseLockResult Lock(string cookie, TimeSpan duration, bool renew, out string detail)
        {
            long sent = cluster.TimeNow();
            Hang?.Wait();
            detail = "";
            if (Unreachable)
            {
                detail = "ETIMEDOUT";
                return LeaseLockResult.Failed;
            }

            lock (cluster._lock)
            {
                if (cluster.Blocklist.Contains(address))
                {
                    return LeaseLockResult.Fenced;
                }

                cluster.Expire();
                bool mine = cluster._holder == cookie && cluster._holderClient == address;
                if (renew && !mine)
                {
                    return LeaseLockResult.NotHeld;
                }

                if (cluster._holder is not null && !mine || !renew && mine)
                {
                    return LeaseLockResult.Busy;
                }

                cluster._holder = cookie;
                cluster._holderClient = address;
                cluster._expires = sent + (long)(duration.TotalSeconds * cluster.Frequency);
                cluster.Operations.Add($"{(renew ? "renew" : "lock")} {cookie.Split(';')[0]}");
                return LeaseLockResult.Acquired;
            }
        }

        public bool Unlock(string cookie)
        {
            lock (cluster._lock)
            {
                if (cluster._holder != cookie || cluster._holderClient != address)
                {
                    return false;
                }

                cluster._holder = cluster._holderClient = null;
                cluster.Operations.Add($"unlock {cookie.Split(';')[0]}");
                return true;
            }
        }

        public LeaseObservation Observe()
        {
            Hang?.Wait();
            if (Unreachable)
            {
                throw new IOException("ETIMEDOUT");
            }

            lock (cluster._lock)
            {
                cluster.Expire();
                string? released = cluster.ReleasedAttribute, to = null;
                if (released?.IndexOf('>', StringComparison.Ordinal) is int gt and >= 0)
                {
                    to = released[(gt + 1)..];
                    released = released[..gt];
                }

                return new LeaseObservation(cluster._holder, cluster._holderClient, cluster.OwnerAttribute, released, to);
            }
        }

        public void RecordOwner(string cookie)
        {
            lock (cluster._lock)
            {
                CheckNotFenced();
                cluster.OwnerAttribute = cookie;
                cluster.Operations.Add($"owner {cookie.Split(';')[0]}");
            }
        }

        public void RecordRelease(string cookie, string target)
        {
            lock (cluster._lock)
            {
                CheckNotFenced();
                cluster.ReleasedAttribute = cookie + ">" + target;
                cluster.Operations.Add($"released {cookie.Split(';')[0]}>{target}");
            }
        }

        public void Fence(IReadOnlyList<string> addresses, TimeSpan expiry)
        {
            lock (cluster._lock)
            {
                CheckNotFenced();
                foreach (var a in addresses)
                {
                    cluster.Blocklist.Add(a);
                }

                cluster.Operations.Add($"fence {string.Join(' ', addresses)}");
            }
        }

        private void CheckNotFenced()
        {
            if (cluster.Blocklist.Contains(address))
            {
                throw new IOException("ESHUTDOWN");
            }
        }

        public void Dispose()
        {
        }
    }

    private long TimeNow() => time.GetTimestamp();

    private long Frequency => time.TimestampFrequency;
}
