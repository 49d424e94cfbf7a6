using NvmeMptls.Initiator;
using NvmeMptls.Target.Namespaces;
using NvmeMptls.TestKit;
using NvmeMptls.Transport.Multipath;

namespace NvmeMptls.IntegrationTests.TestKit;

/// <summary>
/// The real NVMe/TCP path in one object: an in-process <see cref="LoopbackTarget"/> with a memory namespace, our
/// <see cref="NvmeController"/> connected to it over loopback TCP and namespace 1 opened.
/// </summary>
public sealed class NvmeLoopback : IAsyncDisposable
{
    private NvmeLoopback(LoopbackTarget target, NvmeController controller, NvmeNamespace ns)
    {
        Target = target;
        Controller = controller;
        Namespace = ns;
    }

    public LoopbackTarget Target { get; }

    public NvmeController Controller { get; }

    public NvmeNamespace Namespace { get; }

    /// <summary>The target's backing store of namespace 1, to check what really arrived.</summary>
    public IBlockDevice Backing => Target.Subsystem.FindNamespace(1)!.Device;

    public static async Task<NvmeLoopback> StartAsync(
        long size, int ioQueues = 4, int queueSize = 32, bool headerDigest = false, bool dataDigest = false,
        Func<long, IBlockDevice>? backing = null, CancellationToken cancellationToken = default)
    {
        var target = LoopbackTarget.Start(size, backing: backing);
        try
        {
            var controller = await NvmeController.ConnectAsync(Options(target.Port, ioQueues, queueSize, headerDigest, dataDigest), cancellationToken: cancellationToken);
            try
            {
                var ns = await controller.OpenNamespaceAsync(1, cancellationToken);
                return new NvmeLoopback(target, controller, ns);
            }
            catch
            {
                await controller.DisposeAsync();
                throw;
            }
        }
        catch
        {
            await target.DisposeAsync();
            throw;
        }
    }

    public static NvmeControllerOptions Options(int port, int ioQueues = 4, int queueSize = 32, bool headerDigest = false, bool dataDigest = false,
        string nqn = LoopbackTarget.SubsystemNqn) =>
        NvmeControllerOptions.Default with
        {
            TargetAddress = "127.0.0.1",
            TargetPort = port,
            SubsystemNqn = nqn,
            IoQueueCount = ioQueues,
            QueueSize = queueSize,
            HeaderDigest = headerDigest,
            DataDigest = dataDigest,
            Multipath = NvmeMultipathPolicy.Disabled,
            ReconnectDelay = TimeSpan.FromSeconds(1),
            ControllerLossTimeout = TimeSpan.FromSeconds(10),
        };

    /// <summary>Bytes as the target holds them (not through the initiator).</summary>
    public byte[] Snapshot(long offset, int length)
    {
        var data = new byte[length];
        Backing.ReadAsync(offset, data).AsTask().GetAwaiter().GetResult();
        return data;
    }

    public async ValueTask DisposeAsync()
    {
        await Controller.DisposeAsync();
        await Target.DisposeAsync();
    }
}
