using Microsoft.Extensions.Logging.Abstractions;
using NvmeMptls.Initiator;
using NvmeMptls.Target.Hosting;
using NvmeMptls.Target.Server;
using NvmeMptls.TestKit;
using NvmeMptls.Transport.Multipath;

namespace NvmeMptls.IntegrationTests.Target;

public sealed class SubflowMonitorTests
{
    [Test]
    public async Task Monitor_MptcpConnections_KeepsPerConnectionSubflowState()
    {
        await using var target = LoopbackTarget.Start(namespaceBytes: 16 << 20);
        await using var controller = await NvmeController.ConnectAsync(NvmeControllerOptions.Default with
        {
            TargetPort = target.Port,
            SubsystemNqn = LoopbackTarget.SubsystemNqn,
            IoQueueCount = 2,
        });
        if (controller.GetQueuePaths()[0].Multipath?.Mode != QueueTransportMode.Mptcp)
        {
            Assert.Ignore("MPTCP is not available on this host");
        }

        using var monitor = new SubflowMonitor(target.Server, NullLogger.Instance, period: TimeSpan.FromHours(1));
        monitor.Sample();
        var snapshot = monitor.Snapshot;
        Assert.That(snapshot, Has.Count.EqualTo(3), "admin + 2 I/O queues");
        Assert.That(snapshot.Values.All(s => s.Mode == TransportMode.Mptcp && s.Subflows.Count == 1), Is.True);
    }
}
