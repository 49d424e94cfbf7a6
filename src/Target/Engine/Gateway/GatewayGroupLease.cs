using Microsoft.Extensions.Logging;

namespace NvmeMptls.Target.Gateway;

/// <summary>The timings and names one gateway's leases work with.</summary>
public sealed record GatewayLeaseSettings
{
    /// <summary>This gateway's member name (the cookie's first field, what the others report as owner).</summary>
    public required string Gateway { get; init; }

    /// <summary>How long a lock or renewal holds (the OSD forgets the locker after it).</summary>
    public TimeSpan Duration { get; init; } = TimeSpan.FromSeconds(15);

    /// <summary>
    /// How long before the lease could expire (counted from when the last confirmed renewal was sent) the owner stops
    /// serving: room for clock rate differences and for a command already admitted to finish.
    /// </summary>
    public TimeSpan SafetyMargin { get; init; } = TimeSpan.FromSeconds(3);

    /// <summary>How long a fenced client stays blocklisted.</summary>
    public TimeSpan FenceExpiry { get; init; } = TimeSpan.FromHours(1);

    /// <summary>How long a planned move waits between turning the ports inaccessible and releasing the lock.</summary>
    public TimeSpan PlannedMoveDrain { get; init; } = TimeSpan.FromMilliseconds(500);

    /// <summary>How often the owner renews and a standby looks at the lease: a third of the duration.</summary>
    public TimeSpan PollInterval => Duration / 3;
}

/// <summary>
/// The lease of one ANA group on one gateway: the state machine that takes, renews, releases and takes over the
/// RADOS lock, and tells <c>roleChanged</c> (under its lock, so changes arrive in order) what the ports must show.
/// <para>
/// Owner: renews every <see cref="GatewayLeaseSettings.PollInterval"/>; a renewal confirmed at any time counts from
/// the moment it was <em>sent</em>, and a timer independent of the (possibly hanging) call turns the group
/// <see cref="GatewayRole.Uncertain"/> (inaccessible) at sent + duration − margin, so the ports stop before the OSD
/// can hand the lock to anyone else. Standby: when the lock is free, a takeover first fences the last recorded owner
/// (unless it released on purpose), then locks, records itself as owner, and only then serves. The preferred owner
/// takes a free group at once, the others one poll later; a group handed to a named gateway is left to it for two
/// durations.
/// </para>
/// </summary>
public sealed class GatewayGroupLease : IDisposable
{
    private readonly object _step = new();
    private readonly object _gate = new();
    private readonly GatewayLeaseSettings _settings;
    private readonly IGatewayLeaseStore _store;
    private readonly Func<IReadOnlyList<string>> _imageAddresses;
    private readonly Action<uint, GatewayRole> _roleChanged;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly ITimer _deadlineTimer;
    private readonly HashSet<string> _ownNonces = new(StringComparer.Ordinal);
    private GatewayCookie? _cookie;
    private GatewayRole _role = GatewayRole.Standby;
    private long _deadline;
    private long _lastConfirmed;
    private long? _freeSince;
    private string? _owner;
    private string? _preferredOwner;
    private long _fencedPeers;

    public GatewayGroupLease(uint anaGroup, GatewayLeaseSettings settings, IGatewayLeaseStore store, Func<IReadOnlyList<string>> imageAddresses,
        Action<uint, GatewayRole> roleChanged, TimeProvider time, ILogger logger, string? preferredOwner = null)
    {
        ArgumentNullException.ThrowIfNull(settings);
        if (settings.SafetyMargin >= settings.Duration)
        {
            throw new ArgumentOutOfRangeException(nameof(settings), "the safety margin must be shorter than the lease duration");
        }

        AnaGroup = anaGroup;
        _preferredOwner = preferredOwner;
        _settings = settings;
        _store = store;
        _imageAddresses = imageAddresses;
        _roleChanged = roleChanged;
        _time = time;
        _logger = logger;
        _deadlineTimer = time.CreateTimer(static s => ((GatewayGroupLease)s!).OnDeadline(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
    }

    public uint AnaGroup { get; }

    /// <summary>The member that takes the group at once when it is free (live: a reload may change it).</summary>
    public string? PreferredOwner
    {
        get => Volatile.Read(ref _preferredOwner);
        set => Volatile.Write(ref _preferredOwner, value);
    }

    public GatewayRole Role
    {
        get
        {
            lock (_gate)
            {
                return _role;
            }
        }
    }

    /// <summary>The owner's member name as last seen (ours when we own it), or null when no one was seen.</summary>
    public string? Owner
    {
        get
        {
            lock (_gate)
            {
                return _owner;
            }
        }
    }

    /// <summary>Peers this gateway fenced for this group.</summary>
    public long FencedPeers => Interlocked.Read(ref _fencedPeers);

    /// <summary>Seconds since the lease was last confirmed by us (owner, uncertain) or seen held by another (standby); -1 when never.</summary>
    public double LeaseAgeSeconds
    {
        get
        {
            lock (_gate)
            {
                return _lastConfirmed == 0 ? -1 : _time.GetElapsedTime(_lastConfirmed).TotalSeconds;
            }
        }
    }

    /// <summary>Renews, or looks at the lease and takes it over when free. Blocks while the cluster answers.</summary>
    public void Step()
    {
        lock (_step)
        {
            switch (Role)
            {
                case GatewayRole.Owner or GatewayRole.Uncertain:
                    Renew();
                    break;
                case GatewayRole.Standby:
                    TryTakeOver();
                    break;
            }
        }
    }

    /// <summary>Steps every poll interval until <paramref name="stop"/>.</summary>
    public async Task RunAsync(CancellationToken stop)
    {
        while (!stop.IsCancellationRequested)
        {
            try
            {
                await Task.Run(Step, stop).ConfigureAwait(false);
                await Task.Delay(_settings.PollInterval, _time, stop).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                return;
            }
        }
    }

    /// <summary>
    /// Planned move: the ports go to standby (so no new command is served), commands already admitted get
    /// <see cref="GatewayLeaseSettings.PlannedMoveDrain"/> to finish, the release is recorded for <paramref name="target"/>
    /// (so it takes over without fencing us), and the lock is released.
    /// </summary>
    public bool Release(string target, out string detail)
    {
        lock (_step)
        {
            GatewayCookie? cookie;
            lock (_gate)
            {
                if (_role is not GatewayRole.Owner || _cookie is null)
                {
                    detail = $"ANA group {AnaGroup} is not owned by {_settings.Gateway} (it is {GatewayRoles.Name(_role)} here, owner {_owner ?? "unknown"})";
                    return false;
                }

                cookie = _cookie;
                _deadlineTimer.Change(Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
                SetRole(GatewayRole.Standby);
                _owner = target;
            }

            if (_settings.PlannedMoveDrain > TimeSpan.Zero)
            {
                Thread.Sleep(_settings.PlannedMoveDrain);
            }

            try
            {
                _store.RecordRelease(cookie.ToString(), target);
            }
            catch (IOException ex)
            {
                // Without the record the taker fences us, which is safe: the ports are already inaccessible.
                GatewayLog.CallFailed(_logger, _settings.Gateway, AnaGroup, ex.Message);
            }

            _store.Unlock(cookie.ToString());
            _cookie = null;
            lock (_gate)
            {
                _freeSince = null;
            }

            GatewayLog.Released(_logger, _settings.Gateway, AnaGroup, target);
            detail = $"ANA group {AnaGroup} released by {_settings.Gateway} to {target}";
            return true;
        }
    }

    private void Renew()
    {
        var cookie = _cookie!;
        long sent = _time.GetTimestamp();
        var result = _store.Lock(cookie.ToString(), _settings.Duration, renew: true, out string detail);
        switch (result)
        {
            case LeaseLockResult.Acquired:
                Confirmed(sent);
                break;
            case LeaseLockResult.NotHeld or LeaseLockResult.Busy:
                lock (_gate)
                {
                    _deadlineTimer.Change(Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
                    _cookie = null;
                    _owner = null;
                    SetRole(GatewayRole.Standby);
                }

                GatewayLog.Lost(_logger, _settings.Gateway, AnaGroup, result == LeaseLockResult.Busy ? "held by another" : detail);
                break;
            case LeaseLockResult.Fenced:
                BecomeFenced();
                break;
            default:
                GatewayLog.CallFailed(_logger, _settings.Gateway, AnaGroup, "renewal: " + detail);
                break;
        }
    }

    private void Confirmed(long sent)
    {
        lock (_gate)
        {
            long deadline = sent + (long)((_settings.Duration - _settings.SafetyMargin).TotalSeconds * _time.TimestampFrequency);
            TimeSpan remaining = _time.GetElapsedTime(_time.GetTimestamp(), deadline);
            if (remaining <= TimeSpan.Zero)
            {
                // Confirmed too late to count: keep the ports as the deadline left them; the next renewal decides.
                if (_role == GatewayRole.Owner)
                {
                    SetRole(GatewayRole.Uncertain);
                }

                return;
            }

            var before = _role;
            _deadline = deadline;
            _lastConfirmed = _time.GetTimestamp();
            _owner = _settings.Gateway;
            _deadlineTimer.Change(remaining, Timeout.InfiniteTimeSpan);
            if (before != GatewayRole.Owner)
            {
                SetRole(GatewayRole.Owner);
                if (before == GatewayRole.Uncertain)
                {
                    GatewayLog.Recovered(_logger, _settings.Gateway, AnaGroup);
                }
            }
        }
    }

    private void OnDeadline()
    {
        lock (_gate)
        {
            if (_role != GatewayRole.Owner)
            {
                return;
            }

            TimeSpan remaining = _time.GetElapsedTime(_time.GetTimestamp(), _deadline);
            if (remaining > TimeSpan.Zero)
            {
                _deadlineTimer.Change(remaining, Timeout.InfiniteTimeSpan);
                return;
            }

            SetRole(GatewayRole.Uncertain);
        }

        GatewayLog.RenewalDeadlinePassed(_logger, _settings.Gateway, AnaGroup, (long)(_settings.Duration - _settings.SafetyMargin).TotalMilliseconds);
    }

    private void TryTakeOver()
    {
        LeaseObservation seen;
        try
        {
            seen = _store.Observe();
        }
        catch (IOException ex)
        {
            GatewayLog.CallFailed(_logger, _settings.Gateway, AnaGroup, ex.Message);
            return;
        }

        long now = _time.GetTimestamp();
        if (seen.HolderCookie is { } holder)
        {
            string name = GatewayCookie.TryParse(holder)?.Name ?? holder;
            lock (_gate)
            {
                _freeSince = null;
                _lastConfirmed = now;
                if (_owner != name)
                {
                    _owner = name;
                    GatewayLog.OwnerSeen(_logger, _settings.Gateway, AnaGroup, name);
                }
            }

            return;
        }

        TimeSpan free;
        lock (_gate)
        {
            _freeSince ??= now;
            free = _time.GetElapsedTime(_freeSince.Value, now);
        }

        var previous = GatewayCookie.TryParse(seen.LastOwnerCookie);
        bool planned = seen.LastOwnerCookie is not null && seen.ReleasedCookie == seen.LastOwnerCookie;
        if (planned)
        {
            if (seen.ReleasedTo != _settings.Gateway && free < _settings.Duration * 2)
            {
                return;
            }
        }
        else if (PreferredOwner is not null && PreferredOwner != _settings.Gateway && free < _settings.PollInterval)
        {
            return;
        }

        if (!planned && previous is not null && !_ownNonces.Contains(previous.Nonce) && previous.Addresses.Count > 0)
        {
            long started = _time.GetTimestamp();
            try
            {
                _store.Fence(previous.Addresses, _settings.FenceExpiry);
            }
            catch (IOException ex)
            {
                GatewayLog.FenceFailed(_logger, _settings.Gateway, AnaGroup, previous.Name, ex.Message);
                return;
            }

            Interlocked.Increment(ref _fencedPeers);
            GatewayLog.FencedPeer(_logger, _settings.Gateway, AnaGroup, previous.Name, string.Join(' ', previous.Addresses),
                (long)_time.GetElapsedTime(started).TotalMilliseconds);
        }

        var cookie = GatewayCookie.Create(_settings.Gateway, [.. _imageAddresses(), _store.ClientAddress]);
        _ownNonces.Add(cookie.Nonce);
        long sent = _time.GetTimestamp();
        var result = _store.Lock(cookie.ToString(), _settings.Duration, renew: false, out string detail);
        if (result == LeaseLockResult.Fenced)
        {
            BecomeFenced();
            return;
        }

        if (result != LeaseLockResult.Acquired)
        {
            if (result == LeaseLockResult.Failed)
            {
                GatewayLog.CallFailed(_logger, _settings.Gateway, AnaGroup, "lock: " + detail);
            }

            return;
        }

        try
        {
            _store.RecordOwner(cookie.ToString());
        }
        catch (IOException ex)
        {
            // Serving without the record would let a later taker miss us when fencing.
            GatewayLog.CallFailed(_logger, _settings.Gateway, AnaGroup, ex.Message);
            _store.Unlock(cookie.ToString());
            return;
        }

        _cookie = cookie;
        GatewayLog.Acquired(_logger, _settings.Gateway, AnaGroup, previous?.Name ?? "none");
        Confirmed(sent);
    }

    private void BecomeFenced()
    {
        lock (_gate)
        {
            _deadlineTimer.Change(Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
            _cookie = null;
            SetRole(GatewayRole.Fenced);
        }

        GatewayLog.Fenced(_logger, _settings.Gateway, AnaGroup);
    }

    /// <summary>Under <see cref="_gate"/>.</summary>
    private void SetRole(GatewayRole role)
    {
        if (_role == role)
        {
            return;
        }

        _role = role;
        _roleChanged(AnaGroup, role);
    }

    public void Dispose() => _deadlineTimer.Dispose();
}
