using Microsoft.Extensions.Logging.Abstractions;
using NvmeMptls.Target.Namespaces;
using NvmeMptls.Target.Subsystems;
using NvmeMptls.Target.Tcp;
using NvmeMptls.Transport.Connections;

namespace NvmeMptls.Fuzz;

/// <summary>
/// The target's queue in memory, fed the input as everything a host sends: ICReq, Connect (command and data), then
/// admin, Fabrics and I/O capsules and their data, against one subsystem with a small memory namespace. The queue's
/// own catch ladder must turn every bad input into a TermReq, an NVMe status or a close: nothing may escape
/// <see cref="TargetQueue.RunAsync"/>, and it must end once the input has.
/// </summary>
public static class TargetQueueTarget
{
    public const string SubsystemNqn = "nqn.2026-01.io.nvmemptls:fuzz";

    public static void Run(byte[] input)
    {
        var registry = new TargetRegistry(new TargetLimits());
        var subsystem = new Subsystem(SubsystemNqn, "FUZZSERIAL", "NvmeMptls Fuzz", isDiscovery: false, HostAccess.Any);
        subsystem.AddNamespace(new TargetNamespace(1, new MemoryBlockDevice(1 << 20, 512), Guid.Empty, Guid.Empty, readOnly: false));
        registry.AddSubsystem(subsystem);
        var port = new TargetPortInfo(1, "127.0.0.1", 4420, PortTlsMode.None);
        registry.AddPort(port);
        FuzzTargets.Await(ServeAsync(registry, port, input), "target queue");
    }

    private static async Task ServeAsync(TargetRegistry registry, TargetPortInfo port, byte[] input)
    {
        var (host, target) = MemoryConnection.CreatePair();
        await using (host.ConfigureAwait(false))
        {
            var queue = new TargetQueue(target, registry, port, NullLogger.Instance);
            var run = queue.RunAsync(CancellationToken.None);
            var drain = PipeDrain.ToEndAsync(host.Input);
            await host.Output.WriteAsync(input).ConfigureAwait(false);
            await host.Output.CompleteAsync().ConfigureAwait(false);
            await run.ConfigureAwait(false);
            await drain.ConfigureAwait(false);
        }
    }
}
