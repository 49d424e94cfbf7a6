using NvmeMptls.Transport.Nvme;

namespace NvmeMptls.Initiator;

/// <summary>
/// Asymmetric Namespace Access, host side as the Linux host does it (drivers/nvme/host/multipath.c): a controller
/// that sets CMIC bit 3 has its ANA log page (0Ch) read at every bring-up, on every ANA Change notice, and when a
/// path-related status says the host's view is stale; <see cref="GetAnaState"/> answers from the last page read.
/// </summary>
public sealed partial class NvmeController
{
    /// <summary>Largest ANA log read, whatever a (possibly hostile) controller's NN and NANAGRPID add up to.</summary>
    private const int MaxAnaLogBytes = 1 << 20;

    private AnaView _ana = AnaView.None;
    private int _anaRefreshing;
    private int _anaDirty;

    /// <summary>Raised after each ANA log read that changed what <see cref="GetAnaState"/> answers (on a background thread).</summary>
    public event EventHandler? AnaChanged;

    /// <summary>True when the controller reports ANA (Identify Controller CMIC bit 3).</summary>
    public bool ReportsAna => (Current.Identify.Cmic & IdentifyController.CmicAnaReporting) != 0;

    /// <summary>CHGCNT of the last ANA log page read (0 before the first, or without ANA).</summary>
    public ulong AnaChangeCount => Volatile.Read(ref _ana).ChangeCount;

    /// <summary>ANATT: how long the controller may keep a group in the change state (0 without ANA).</summary>
    public TimeSpan AnaTransitionTime => TimeSpan.FromSeconds(Current.Identify.AnaTransitionTime);

    /// <summary>
    /// How this controller reaches namespace <paramref name="nsid"/>, from the last ANA log read; <see cref="NvmeAnaState.Optimized"/>
    /// for a controller without ANA reporting. One dictionary lookup, no allocation: cheap enough per I/O.
    /// </summary>
    public NvmeAnaState GetAnaState(uint nsid)
    {
        var view = Volatile.Read(ref _ana);
        if (!view.Reported)
        {
            return NvmeAnaState.Optimized;
        }

        return view.ByNamespace.TryGetValue(nsid, out var state) ? state : NvmeAnaState.Unknown;
    }

    /// <summary>Reads the ANA log page now (Get Log Page 0Ch, RAE clear: a pending ANA notice is re-armed).</summary>
    /// <exception cref="NvmeStatusException">The controller refused the read.</exception>
    /// <exception cref="InvalidDataException">The page is malformed (the message names the field and its offset).</exception>
    public async Task RefreshAnaAsync(CancellationToken cancellationToken = default)
    {
        var identify = Current.Identify;
        if ((identify.Cmic & IdentifyController.CmicAnaReporting) == 0)
        {
            return;
        }

        var page = new byte[AnaLogLength(identify)];
        await AdminAsync(Commands.GetLogPage(LogPageIds.AsymmetricNamespaceAccess, 0xFFFFFFFF, 0, page.Length, false), page, "Get Log Page 0Ch", cancellationToken).ConfigureAwait(false);
        Apply(identify, page);
    }

    /// <summary>
    /// Asks for a log read in the background (a path-related status on I/O): several requests while one read runs
    /// make one more read after it, not one each.
    /// </summary>
    internal void RequestAnaRefresh()
    {
        Volatile.Write(ref _anaDirty, 1);
        if (Interlocked.Exchange(ref _anaRefreshing, 1) != 0)
        {
            return;
        }

        _ = Task.Run(async () =>
        {
            try
            {
                while (Interlocked.Exchange(ref _anaDirty, 0) != 0)
                {
                    try
                    {
                        using var limit = new CancellationTokenSource(Options.CommandTimeout, Options.TimeProvider);
                        await RefreshAnaAsync(limit.Token).ConfigureAwait(false);
                    }
                    catch (Exception ex) when (ex is IOException or NvmeStatusException or OperationCanceledException or InvalidDataException or ObjectDisposedException or InvalidOperationException)
                    {
                        Log.AnaReadFailed(_logger, ControllerIdOrZero(), ex.Message);
                    }
                }
            }
            finally
            {
                Volatile.Write(ref _anaRefreshing, 0);
            }
        });
    }

    /// <summary>At bring-up, on the new association's admin queue (before it is live): the first view of the paths.</summary>
    private async Task ReadAnaAtBringUpAsync(Association association, CancellationToken cancellationToken)
    {
        if ((association.Identify.Cmic & IdentifyController.CmicAnaReporting) == 0)
        {
            Volatile.Write(ref _ana, AnaView.None);
            return;
        }

        var page = new byte[AnaLogLength(association.Identify)];
        await AdminChecked(association.Admin, Commands.GetLogPage(LogPageIds.AsymmetricNamespaceAccess, 0xFFFFFFFF, 0, page.Length, false), page, "Get Log Page 0Ch", cancellationToken).ConfigureAwait(false);
        Apply(association.Identify, page);
    }

    /// <summary>A read by the AER loop: a malformed page is logged and the loop goes on.</summary>
    private async Task ReadAnaLogAsync(Association association, CancellationToken cancellationToken)
    {
        var page = new byte[AnaLogLength(association.Identify)];
        await AdminChecked(association.Admin, Commands.GetLogPage(LogPageIds.AsymmetricNamespaceAccess, 0xFFFFFFFF, 0, page.Length, false), page, "Get Log Page 0Ch", cancellationToken).ConfigureAwait(false);
        try
        {
            Apply(association.Identify, page);
        }
        catch (InvalidDataException ex)
        {
            Log.AnaReadFailed(_logger, association.ControllerId, ex.Message);
        }
    }

    /// <summary>Header, NANAGRPID descriptors and every NSID once, as the Linux host sizes it; capped.</summary>
    private static int AnaLogLength(IdentifyController identify)
    {
        var length = AnaLogPage.HeaderSize + ((long)identify.AnaGroupCount * AnaGroupDescriptor.HeaderSize) + ((long)identify.NamespaceCount * 4);
        return (int)Math.Min(length, MaxAnaLogBytes) & ~3;
    }

    private void Apply(IdentifyController identify, byte[] page)
    {
        if (!AnaLogPage.TryRead(page, identify.AnaGroupIdMax, out var log, out var error))
        {
            throw new InvalidDataException($"ANA log page of controller {identify.ControllerId}: {error}");
        }

        var byNamespace = new Dictionary<uint, NvmeAnaState>();
        foreach (var group in log!.Groups)
        {
            foreach (var nsid in group.Nsids)
            {
                byNamespace[nsid] = (NvmeAnaState)(byte)group.State;
            }
        }

        var next = new AnaView(true, log.ChangeCount, byNamespace);
        var previous = Interlocked.Exchange(ref _ana, next);
        Log.AnaRead(_logger, identify.ControllerId, log.ChangeCount, Describe(log));
        if (!next.SameStates(previous))
        {
            AnaChanged?.Invoke(this, EventArgs.Empty);
        }
    }

    private ushort ControllerIdOrZero() => (_current ?? _last)?.ControllerId ?? 0;

    private static string Describe(AnaLogPage log) =>
        string.Join(", ", log.Groups.Select(g => $"group {g.GroupId} {AnaStates.Name(g.State)} ({g.Nsids.Count} ns)"));

    /// <summary>One ANA log page as the host uses it: the state of each namespace.</summary>
    private sealed record AnaView(bool Reported, ulong ChangeCount, Dictionary<uint, NvmeAnaState> ByNamespace)
    {
        public static AnaView None { get; } = new(false, 0, []);

        public bool SameStates(AnaView other) =>
            Reported == other.Reported && ByNamespace.Count == other.ByNamespace.Count
            && ByNamespace.All(kv => other.ByNamespace.TryGetValue(kv.Key, out var s) && s == kv.Value);
    }
}
