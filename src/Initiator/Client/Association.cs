using NvmeMptls.Initiator.Queue;
using NvmeMptls.Transport.Nvme;

namespace NvmeMptls.Initiator;

/// <summary>
/// One life of a controller: the admin queue, the I/O queues, the identity the target gave us and the
/// background work (keep alive, AER). A reconnect builds a new one; the old one is only torn down.
/// </summary>
internal sealed class Association
{
    public Association(HostQueue admin, ulong capabilities, uint version, IdentifyController identify, byte[] identifyRaw, uint controllerConfiguration)
    {
        Admin = admin;
        Capabilities = capabilities;
        Version = version;
        Identify = identify;
        Info = NvmeControllerInfo.From(identify);
        IdentifyRaw = identifyRaw;
        ControllerConfiguration = controllerConfiguration;
    }

    public HostQueue Admin { get; }

    public HostQueue[] Io { get; set; } = [];

    public ulong Capabilities { get; }

    public uint Version { get; }

    public IdentifyController Identify { get; }

    /// <summary>The public view of <see cref="Identify"/>.</summary>
    public NvmeControllerInfo Info { get; }

    public byte[] IdentifyRaw { get; }

    /// <summary>The CC value written at enable, kept for the shutdown write.</summary>
    public uint ControllerConfiguration { get; }

    public CancellationTokenSource Background { get; } = new();

    public Task KeepAlive { get; set; } = Task.CompletedTask;

    public Task AsyncEvents { get; set; } = Task.CompletedTask;

    public ushort ControllerId => Admin.ControllerId;

    public bool AdminLost => Admin.IsLost;

    public async ValueTask TearDownAsync()
    {
        await Background.CancelAsync().ConfigureAwait(false);
        foreach (var queue in Io)
        {
            await queue.DisposeAsync().ConfigureAwait(false);
        }

        await Admin.DisposeAsync().ConfigureAwait(false);
        // The background loops end with their queues and report their own errors; teardown only waits for them.
        await Task.WhenAll(KeepAlive, AsyncEvents).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        Background.Dispose();
    }
}
