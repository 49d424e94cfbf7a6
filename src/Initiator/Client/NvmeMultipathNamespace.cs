using System.Runtime.CompilerServices;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using NvmeMptls.Transport.Nvme;

namespace NvmeMptls.Initiator;

/// <summary>
/// One namespace reached through several controllers of its subsystem (multipath across controllers, above the
/// MPTCP subflows of each): I/O goes round robin to the paths in the best ANA state (optimized, else non-optimized)
/// whose controller is live. A path-related status (SCT 3h, e.g. Asymmetric Access Inaccessible) or a controller
/// leaving the live state moves the command to another path — as the Linux host requeues it — and has the
/// refusing controller's ANA log read again. When no path can serve, I/O waits up to
/// <see cref="FailoverTimeout"/> for one (an ANA change or a reconnect) and then fails with <see cref="IOException"/>.
/// The controllers stay the caller's: this object only watches them.
/// </summary>
public sealed class NvmeMultipathNamespace : INamespaceDevice, IDisposable
{
    private const int MaxPaths = 64;
    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(100);

    private readonly NvmeNamespace[] _paths;
    private readonly PathSignal[] _signals;
    private readonly ILogger _logger;
    private readonly EventHandler _onAnaChanged;
    private readonly EventHandler<NvmeControllerStateChange> _onStateChanged;
    private readonly Lock _lock = new();
    private int[] _preferred = [];
    private int _next;
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _disposed;

    private NvmeMultipathNamespace(NvmeNamespace[] paths, TimeSpan failoverTimeout, ILogger logger)
    {
        _paths = paths;
        _logger = logger;
        FailoverTimeout = failoverTimeout;
        _signals = new PathSignal[paths.Length];
        _onAnaChanged = (_, _) => Recompute();
        _onStateChanged = OnStateChanged;
        for (var i = 0; i < paths.Length; i++)
        {
            _signals[i] = new PathSignal(paths[i].Controller.State == NvmeControllerState.Live);
            paths[i].Controller.AnaChanged += _onAnaChanged;
            paths[i].Controller.StateChanged += _onStateChanged;
        }

        Nsid = paths[0].Nsid;
        LbaSize = paths[0].LbaSize;
        var blocks = paths[0].BlockCount;
        var max = paths[0].MaxTransferBytes;
        foreach (var p in paths)
        {
            blocks = Math.Min(blocks, p.BlockCount);
            max = Math.Min(max, p.MaxTransferBytes);
        }

        BlockCount = blocks;
        MaxTransferBytes = max;
        Recompute();
    }

    /// <inheritdoc />
    public uint Nsid { get; }

    /// <inheritdoc />
    public int LbaSize { get; }

    /// <inheritdoc />
    public ulong BlockCount { get; }

    /// <inheritdoc />
    public int MaxTransferBytes { get; }

    /// <summary>How long a command waits for a usable path when none is (all inaccessible, changing or reconnecting).</summary>
    public TimeSpan FailoverTimeout { get; }

    /// <summary>The namespace on each controller, in the order given.</summary>
    public IReadOnlyList<NvmeNamespace> Paths => _paths;

    /// <summary>The paths I/O goes to now (best ANA state, controller live); empty when none can serve.</summary>
    public IReadOnlyList<NvmeNamespace> ActivePaths
    {
        get
        {
            var preferred = Volatile.Read(ref _preferred);
            var list = new NvmeNamespace[preferred.Length];
            for (var i = 0; i < preferred.Length; i++)
            {
                list[i] = _paths[preferred[i]];
            }

            return list;
        }
    }

    /// <summary>Raised when <see cref="ActivePaths"/> changed (an ANA change or a controller state change).</summary>
    public event EventHandler? ActivePathsChanged;

    /// <summary>
    /// Opens namespace <paramref name="nsid"/> on every controller (all of one subsystem) and checks they are the same
    /// namespace: same NGUID (when reported), LBA size and size.
    /// </summary>
    /// <param name="controllers">Live controllers of one subsystem, one per path (1 to 64).</param>
    /// <param name="nsid">The namespace.</param>
    /// <param name="failoverTimeout">How long I/O waits for a usable path; null for twice the longest ANATT, at least 10 s.</param>
    /// <param name="logger">Optional logger (failovers, path changes).</param>
    /// <param name="cancellationToken">Cancels the opening.</param>
    /// <exception cref="ArgumentException">No controller, too many, or the paths do not show the same namespace.</exception>
    public static async Task<NvmeMultipathNamespace> OpenAsync(
        IReadOnlyList<NvmeController> controllers, uint nsid, TimeSpan? failoverTimeout = null, ILogger? logger = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(controllers);
        if (controllers.Count is 0 or > MaxPaths)
        {
            throw new ArgumentException($"1 to {MaxPaths} controllers (paths), not {controllers.Count}", nameof(controllers));
        }

        var paths = new NvmeNamespace[controllers.Count];
        var anatt = TimeSpan.Zero;
        for (var i = 0; i < paths.Length; i++)
        {
            paths[i] = await controllers[i].OpenNamespaceAsync(nsid, cancellationToken).ConfigureAwait(false);
            anatt = anatt > controllers[i].AnaTransitionTime ? anatt : controllers[i].AnaTransitionTime;
            var first = paths[0];
            var path = paths[i];
            if (!string.Equals(controllers[i].Identify.SubsystemNqn, controllers[0].Identify.SubsystemNqn, StringComparison.Ordinal)
                || path.LbaSize != first.LbaSize || path.Identify.Nguid != first.Identify.Nguid)
            {
                throw new ArgumentException($"path {i} ({Describe(path)}) does not show the same namespace as path 0 ({Describe(first)}): subsystem, NGUID or LBA size differ", nameof(controllers));
            }
        }

        var timeout = failoverTimeout ?? TimeSpan.FromTicks(Math.Max(TimeSpan.FromSeconds(10).Ticks, (anatt * 2).Ticks));
        return new NvmeMultipathNamespace(paths, timeout, logger ?? NullLogger.Instance);
    }

    /// <inheritdoc />
    public ValueTask ReadAsync(ulong lba, Memory<byte> buffer, CancellationToken cancellationToken = default) =>
        RunAsync(Operation.Read, lba, buffer, default, false, 0, cancellationToken);

    /// <inheritdoc />
    public ValueTask WriteAsync(ulong lba, ReadOnlyMemory<byte> data, bool forceUnitAccess = false, CancellationToken cancellationToken = default) =>
        RunAsync(Operation.Write, lba, default, data, forceUnitAccess, 0, cancellationToken);

    /// <inheritdoc />
    public ValueTask FlushAsync(CancellationToken cancellationToken = default) =>
        RunAsync(Operation.Flush, 0, default, default, false, 0, cancellationToken);

    /// <inheritdoc />
    public ValueTask WriteZeroesAsync(ulong lba, uint blocks, bool deallocate = false, CancellationToken cancellationToken = default) =>
        RunAsync(deallocate ? Operation.WriteZeroesDeallocate : Operation.WriteZeroes, lba, default, default, false, blocks, cancellationToken);

    /// <inheritdoc />
    public ValueTask DeallocateAsync(ulong lba, uint blocks, CancellationToken cancellationToken = default) =>
        RunAsync(Operation.Deallocate, lba, default, default, false, blocks, cancellationToken);

    /// <summary>Stops watching the controllers (they stay open; they are the caller's).</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        foreach (var p in _paths)
        {
            p.Controller.AnaChanged -= _onAnaChanged;
            p.Controller.StateChanged -= _onStateChanged;
        }
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask RunAsync(Operation operation, ulong lba, Memory<byte> buffer, ReadOnlyMemory<byte> data, bool fua, uint blocks, CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        ulong tried = 0;
        long waitingSince = 0;
        while (true)
        {
            var index = Choose(tried);
            if (index < 0)
            {
                var time = _paths[0].Controller.Options.TimeProvider;
                if (waitingSince == 0)
                {
                    waitingSince = time.GetTimestamp();
                }

                await WaitForPathAsync(time, waitingSince, tried != 0, cancellationToken).ConfigureAwait(false);
                tried = 0;
                continue;
            }

            var path = _paths[index];
            var signal = _signals[index];
            var pathToken = signal.Token;
            try
            {
                if (cancellationToken.CanBeCanceled)
                {
                    using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, pathToken);
                    await Start(path, operation, lba, buffer, data, fua, blocks, linked.Token).ConfigureAwait(false);
                }
                else
                {
                    await Start(path, operation, lba, buffer, data, fua, blocks, pathToken).ConfigureAwait(false);
                }

                return;
            }
            catch (NvmeStatusException ex) when (NvmeStatusCodes.IsPathRelated(ex.Status) && !ex.Status.DoNotRetry)
            {
                // NVMe Base 2.0 §8.1.3: this path refused; its ANA view is stale — read it again, try another path.
                Log.PathFailover(_logger, Nsid, Describe(path), NvmeStatusCodes.Describe(ex.Status));
                path.Controller.RequestAnaRefresh();
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                // The path's controller left the live state while the command waited to be (re)sent.
                Log.PathFailover(_logger, Nsid, Describe(path), "controller not live");
            }
            catch (Exception ex) when (ex is IOException or ObjectDisposedException)
            {
                Log.PathFailover(_logger, Nsid, Describe(path), ex.Message);
            }

            tried |= 1UL << index;
        }
    }

    private static ValueTask Start(NvmeNamespace path, Operation operation, ulong lba, Memory<byte> buffer, ReadOnlyMemory<byte> data, bool fua, uint blocks, CancellationToken token) =>
        operation switch
        {
            Operation.Read => path.ReadAsync(lba, buffer, token),
            Operation.Write => path.WriteAsync(lba, data, fua, token),
            Operation.Flush => path.FlushAsync(token),
            Operation.WriteZeroes => path.WriteZeroesAsync(lba, blocks, false, token),
            Operation.WriteZeroesDeallocate => path.WriteZeroesAsync(lba, blocks, true, token),
            _ => path.DeallocateAsync(lba, blocks, token),
        };

    /// <summary>The next preferred path not yet tried by this command; else any live path not tried whose state is unknown; else -1.</summary>
    private int Choose(ulong tried)
    {
        var preferred = Volatile.Read(ref _preferred);
        if (preferred.Length > 0)
        {
            var start = (Interlocked.Increment(ref _next) & int.MaxValue) % preferred.Length;
            for (var k = 0; k < preferred.Length; k++)
            {
                var index = preferred[(start + k) % preferred.Length];
                if ((tried & (1UL << index)) == 0)
                {
                    return index;
                }
            }
        }

        return -1;
    }

    /// <summary>No usable path: ask every live controller for its ANA log once, then wait for a change (polling too) until the failover timeout.</summary>
    private async ValueTask WaitForPathAsync(TimeProvider time, long since, bool refresh, CancellationToken cancellationToken)
    {
        if (refresh)
        {
            foreach (var p in _paths)
            {
                if (p.Controller.State == NvmeControllerState.Live)
                {
                    p.Controller.RequestAnaRefresh();
                }
            }
        }

        var left = FailoverTimeout - time.GetElapsedTime(since);
        if (left <= TimeSpan.Zero)
        {
            throw new IOException($"namespace {Nsid}: no path could serve within {FailoverTimeout.TotalSeconds:0.#} s ({DescribeAll()})");
        }

        Task changed;
        lock (_lock)
        {
            changed = _changed.Task;
        }

        await Task.WhenAny(changed, Task.Delay(left < PollInterval ? left : PollInterval, time, cancellationToken)).ConfigureAwait(false);
        cancellationToken.ThrowIfCancellationRequested();
    }

    private void OnStateChanged(object? sender, NvmeControllerStateChange change)
    {
        for (var i = 0; i < _paths.Length; i++)
        {
            if (ReferenceEquals(_paths[i].Controller, sender))
            {
                _signals[i].Set(change.Current == NvmeControllerState.Live);
            }
        }

        Recompute();
    }

    /// <summary>Ranks the paths: live and optimized first, then live and non-optimized; unknown only when nothing better.</summary>
    private void Recompute()
    {
        int[] next;
        TaskCompletionSource changed;
        lock (_lock)
        {
            var best = int.MaxValue;
            var list = new List<int>(_paths.Length);
            for (var i = 0; i < _paths.Length; i++)
            {
                var controller = _paths[i].Controller;
                if (controller.State != NvmeControllerState.Live)
                {
                    continue;
                }

                var rank = controller.GetAnaState(Nsid) switch
                {
                    NvmeAnaState.Optimized => 0,
                    NvmeAnaState.NonOptimized => 1,
                    NvmeAnaState.Unknown => 2,
                    _ => int.MaxValue,
                };
                if (rank < best)
                {
                    best = rank;
                    list.Clear();
                }

                if (rank == best && rank != int.MaxValue)
                {
                    list.Add(i);
                }
            }

            next = [.. list];
            var previous = _preferred;
            _preferred = next;
            changed = _changed;
            _changed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            if (previous.AsSpan().SequenceEqual(next))
            {
                changed.TrySetResult();
                return;
            }
        }

        changed.TrySetResult();
        Log.PathsChosen(_logger, Nsid, next.Length == 0 ? "no path (waiting)" : string.Join(", ", next.Select(i => Describe(_paths[i]))));
        ActivePathsChanged?.Invoke(this, EventArgs.Empty);
    }

    private string DescribeAll() => string.Join("; ", _paths.Select(p => $"{Describe(p)}: {p.Controller.State}, {p.Controller.GetAnaState(Nsid)}"));

    private static string Describe(NvmeNamespace path) => $"{path.Controller.Options.TargetAddress}:{path.Controller.Options.TargetPort}";

    private enum Operation
    {
        Read,
        Write,
        Flush,
        WriteZeroes,
        WriteZeroesDeallocate,
        Deallocate,
    }

    /// <summary>
    /// A token cancelled while the path's controller is not live (renewed when it is live again). Its sources have no
    /// timer and are never disposed: commands of any age may still read their token.
    /// </summary>
#pragma warning disable CA1001 // see above: a source without a timer holds nothing that needs disposing
    private sealed class PathSignal
#pragma warning restore CA1001
    {
        private CancellationTokenSource _source = new();

        public PathSignal(bool live)
        {
            if (!live)
            {
                _source.Cancel();
            }
        }

        public CancellationToken Token => Volatile.Read(ref _source).Token;

        public void Set(bool live)
        {
            var current = Volatile.Read(ref _source);
            if (!live)
            {
                current.Cancel();
            }
            else if (current.IsCancellationRequested)
            {
                // The old source stays undisposed: commands still holding its token may be checking it.
#pragma warning disable CA2000 // owned by this signal for the rest of its life, see the class comment
                Volatile.Write(ref _source, new CancellationTokenSource());
#pragma warning restore CA2000
            }
        }
    }
}
