namespace NvmeMptls.Crypto.Psk;

/// <summary>
/// The target's generated (G) TLS PSKs from secure channel concatenation, found by identity when the host reconnects
/// with TLS. Like the kernel target's keyring entries (nvme_tls_psk_refresh), each lives for a bounded time (default
/// one hour) from its insertion; the store also holds at most <see cref="Capacity"/> keys, dropping the oldest first, so a
/// host that authenticates in a loop cannot grow it. Keys are zeroed when they leave the store.
/// </summary>
public sealed class GeneratedPskStore : IDisposable
{
    public static readonly TimeSpan DefaultLifetime = TimeSpan.FromHours(1);
    public const int DefaultCapacity = 1024;

    private readonly Lock _lock = new();
    private readonly Dictionary<string, Entry> _entries = new(StringComparer.Ordinal);
    private readonly TimeProvider _time;

    public GeneratedPskStore(TimeProvider? time = null, TimeSpan? lifetime = null, int capacity = DefaultCapacity)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        _time = time ?? TimeProvider.System;
        Lifetime = lifetime ?? DefaultLifetime;
        Capacity = capacity;
    }

    public TimeSpan Lifetime { get; }

    public int Capacity { get; }

    /// <summary>Keys held now (expired ones included until the next insert or lookup drops them).</summary>
    public int Count
    {
        get
        {
            lock (_lock)
            {
                return _entries.Count;
            }
        }
    }

    /// <summary>Takes ownership of <paramref name="psk"/> (a G identity); an older key for the same identity is replaced.</summary>
    public void Insert(DerivedTlsPsk psk)
    {
        ArgumentNullException.ThrowIfNull(psk);
        if (!psk.Identity.Generated)
        {
            throw new ArgumentException("only generated (NVMe1G…) identities belong in this store", nameof(psk));
        }
        long now = _time.GetTimestamp();
        string identity = psk.Identity.ToString();
        lock (_lock)
        {
            DropExpired(now);
            if (_entries.Remove(identity, out var previous))
            {
                previous.Psk.Dispose();
            }
            while (_entries.Count >= Capacity)
            {
                string oldest = "";
                long oldestAt = long.MaxValue;
                foreach (var (key, entry) in _entries)
                {
                    if (entry.InsertedAt < oldestAt)
                    {
                        oldest = key;
                        oldestAt = entry.InsertedAt;
                    }
                }
                _entries.Remove(oldest, out var evicted);
                evicted?.Psk.Dispose();
            }
            _entries[identity] = new Entry(psk, now);
        }
    }

    /// <summary>A copy of the key for this identity (the caller disposes it), or null when none is held or it expired.</summary>
    public DerivedTlsPsk? Find(NvmePskIdentity identity)
    {
        ArgumentNullException.ThrowIfNull(identity);
        long now = _time.GetTimestamp();
        lock (_lock)
        {
            DropExpired(now);
            return _entries.TryGetValue(identity.ToString(), out var entry)
                ? new DerivedTlsPsk(entry.Psk.Identity, entry.Psk.TlsPsk.ToArray(), compat: false)
                : null;
        }
    }

    /// <summary>Forgets (and zeroes) the key of this identity, as a REPLACETLSPSK does for the key it replaces.</summary>
    public bool Remove(string identity)
    {
        lock (_lock)
        {
            if (!_entries.Remove(identity, out var entry))
            {
                return false;
            }
            entry.Psk.Dispose();
            return true;
        }
    }

    private void DropExpired(long now)
    {
        List<string>? expired = null;
        foreach (var (key, entry) in _entries)
        {
            if (_time.GetElapsedTime(entry.InsertedAt, now) >= Lifetime)
            {
                (expired ??= []).Add(key);
            }
        }
        if (expired is null)
        {
            return;
        }
        foreach (string key in expired)
        {
            _entries.Remove(key, out var entry);
            entry?.Psk.Dispose();
        }
    }

    public void Dispose()
    {
        lock (_lock)
        {
            foreach (var entry in _entries.Values)
            {
                entry.Psk.Dispose();
            }
            _entries.Clear();
        }
    }

    private sealed record Entry(DerivedTlsPsk Psk, long InsertedAt);
}
