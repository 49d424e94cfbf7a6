namespace NvmeMptls.Target.Gateway;

/// <summary>What a lock or renewal attempt on a lease object came to.</summary>
public enum LeaseLockResult
{
    /// <summary>Taken or extended: the lease is ours for its duration from the moment the request was sent.</summary>
    Acquired,

    /// <summary>Another (client, cookie) holds it.</summary>
    Busy,

    /// <summary>A renewal found that we no longer hold it (it expired or was broken).</summary>
    NotHeld,

    /// <summary>This client is blocklisted (ESHUTDOWN): another gateway fenced us; nothing we send is applied any more.</summary>
    Fenced,

    /// <summary>No answer or another error (cluster unreachable, timeout): nothing is known.</summary>
    Failed,
}

/// <summary>
/// A lease object as a standby sees it: the current locker (null when the lock is free or expired, since an OSD drops
/// expired lockers when it reads the lock), the cookie of the last gateway that recorded itself as owner, and the
/// cookie of the last one that released it on purpose (with the gateway it handed the group to).
/// </summary>
public sealed record LeaseObservation(string? HolderCookie, string? HolderAddress, string? LastOwnerCookie, string? ReleasedCookie, string? ReleasedTo)
{
    public static LeaseObservation Unknown { get; } = new(null, null, null, null, null);
}

/// <summary>
/// One ANA group's lease object in RADOS (cls_lock exclusive lock with a duration, plus two attributes naming the
/// last owner and the last planned release). Every call blocks until the cluster answers (or librados times out);
/// the real one is <see cref="RadosLeaseStore"/>, the state machine's unit tests use a fake.
/// </summary>
public interface IGatewayLeaseStore : IDisposable
{
    /// <summary>This lease client's own address (fenced together with the group's image clients by a taker).</summary>
    string ClientAddress { get; }

    /// <summary>Takes the lock (<paramref name="renew"/> false) or extends it (true, MUST_RENEW) for <paramref name="duration"/>.</summary>
    LeaseLockResult Lock(string cookie, TimeSpan duration, bool renew, out string detail);

    /// <summary>Releases our lock; false when it was not ours any more.</summary>
    bool Unlock(string cookie);

    /// <summary>Reads the locker and the owner/release attributes; throws <see cref="IOException"/> when the cluster does not answer.</summary>
    LeaseObservation Observe();

    /// <summary>Records <paramref name="cookie"/> as the owner (after taking the lock, before serving); throws on failure.</summary>
    void RecordOwner(string cookie);

    /// <summary>Records a planned release of <paramref name="cookie"/>'s lease to <paramref name="target"/>; throws on failure.</summary>
    void RecordRelease(string cookie, string target);

    /// <summary>Blocklists every address (Ceph "osd blocklist add") and waits for the newest OSD map; throws on failure.</summary>
    void Fence(IReadOnlyList<string> addresses, TimeSpan expiry);
}
