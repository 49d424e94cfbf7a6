using NvmeMptls.Target.Namespaces;

namespace NvmeMptls.Target.Subsystems;

/// <summary>
/// One namespace of a subsystem at run time: its storage, identifiers and I/O counters. Removal drains it:
/// new commands see it as inactive, in-flight ones finish against the still-open device, then the device closes.
/// </summary>
public sealed class TargetNamespace
{
    private long _inFlight;
    private long _blockCount;
    private int _removed;
    private readonly TaskCompletionSource _drained = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private uint _anaGroupId;

    public TargetNamespace(uint nsid, IBlockDevice device, Guid nguid, Guid uuid, bool readOnly, uint anaGroupId = AnaGroups.DefaultGroupId, NamespaceReservations? reservations = null)
    {
        Reservations = reservations ?? new NamespaceReservations();
        if (!AnaGroups.IsValidGroupId(anaGroupId))
        {
            throw new ArgumentOutOfRangeException(nameof(anaGroupId), anaGroupId, $"ANA group ids are 1..{AnaGroups.MaxGroupId}");
        }

        _anaGroupId = anaGroupId;
        Nsid = nsid;
        Device = device;
        Nguid = nguid;
        Uuid = uuid;
        ReadOnly = readOnly;
        LbaShift = device.LogicalBlockSize == 4096 ? 12 : 9;
        _blockCount = device.SizeBytes >> LbaShift;
        device.SizeChanged += OnDeviceResized;
    }

    public uint Nsid { get; }
    public IBlockDevice Device { get; }
    public Guid Nguid { get; }
    public Guid Uuid { get; }
    public bool ReadOnly { get; }
    public int LbaShift { get; }
    public int LbaSize => 1 << LbaShift;

    /// <summary>ANAGRPID: the ANA group whose per-port state decides whether a port serves this namespace's I/O.</summary>
    public uint AnaGroupId
    {
        get => Volatile.Read(ref _anaGroupId);
        internal set => Volatile.Write(ref _anaGroupId, value);
    }
    /// <summary>NSZE: follows the device when it is resized (an RBD image), so new commands see the new size at once.</summary>
    public ulong BlockCount => (ulong)Volatile.Read(ref _blockCount);

    /// <summary>Set by the subsystem: tells its controllers that this namespace's size changed.</summary>
    internal Action<TargetNamespace>? Resized { get; set; }
    public bool Removed => Volatile.Read(ref _removed) != 0;
    public NamespaceCounters Counters { get; } = new();

    /// <summary>Persistent reservations: registrants, the reservation, PTPL; checked for every I/O.</summary>
    public NamespaceReservations Reservations { get; }

    private void OnDeviceResized(IBlockDevice device)
    {
        Volatile.Write(ref _blockCount, device.SizeBytes >> LbaShift);
        Resized?.Invoke(this);
    }

    /// <summary>Takes a reference for one command; false when the namespace is being removed.</summary>
    public bool TryAcquire()
    {
        Interlocked.Increment(ref _inFlight);
        if (Removed)
        {
            Release();
            return false;
        }

        return true;
    }

    public void Release()
    {
        if (Interlocked.Decrement(ref _inFlight) == 0 && Removed)
        {
            _drained.TrySetResult();
        }
    }

    /// <summary>Stops new commands, waits for in-flight ones (up to <paramref name="timeout"/>), flushes and closes the device.</summary>
    public async Task RemoveAsync(TimeSpan timeout)
    {
        if (Interlocked.Exchange(ref _removed, 1) != 0)
        {
            return;
        }

        if (Interlocked.Read(ref _inFlight) == 0)
        {
            _drained.TrySetResult();
        }

        Device.SizeChanged -= OnDeviceResized;
        await Task.WhenAny(_drained.Task, Task.Delay(timeout)).ConfigureAwait(false);
        try
        {
            await Device.FlushAsync().ConfigureAwait(false);
        }
        finally
        {
            await Device.DisposeAsync().ConfigureAwait(false);
        }
    }
}

/// <summary>Per-namespace I/O counters, read by SMART/health and the metrics endpoint.</summary>
public sealed class NamespaceCounters
{
    public long ReadCommands;
    public long WriteCommands;
    public long FlushCommands;
    public long OtherCommands;
    public long BytesRead;
    public long BytesWritten;
    public long Errors;
}
