using System.Diagnostics;
using System.Text;
using NvmeMptls.Cli;
using NvmeMptls.Initiator;
using NvmeMptls.IntegrationTests.TestKit;
using NvmeMptls.Transport.Nvme;

namespace NvmeMptls.IntegrationTests.Interop;

/// <summary>
/// Our initiator against an independent target: the Linux kernel's nvmet-tcp in a qemu guest (bookworm, 6.1,
/// 64 MiB RAM disk, 512-byte blocks). Emulated and slow: these prove the protocol, not speed.
/// </summary>
[TestFixture]
[NonParallelizable]
[Category("Interop")]
public sealed class LinuxTargetTests
{
    private LinuxTargetVm? _vm;

    private LinuxTargetVm Vm => _vm ?? throw new InvalidOperationException("VM not started");

    private NvmeControllerOptions Options(int ioQueues, bool digests = false) => NvmeControllerOptions.Default with
    {
        TargetPort = Vm.Port,
        SubsystemNqn = LinuxTargetVm.SubsystemNqn,
        IoQueueCount = ioQueues,
        HeaderDigest = digests,
        DataDigest = digests,
        ReconnectDelay = TimeSpan.FromSeconds(1),
        ControllerLossTimeout = TimeSpan.FromSeconds(60),
        ConnectTimeout = TimeSpan.FromSeconds(20),
    };

    [OneTimeSetUp]
    public async Task BootTarget() =>
        _vm = await LinuxTargetVm.BootOrIgnoreAsync(() => LinuxTargetVm.StartAsync(TimeSpan.FromSeconds(180)));

    [OneTimeTearDown]
    public async Task StopTarget()
    {
        if (_vm is not null)
        {
            await _vm.DisposeAsync();
        }
    }

    [Test]
    public async Task Discover_KernelDiscoveryService_ListsTheSubsystem()
    {
        // The kernel's discovery controller shares port 4420 with the subsystem inside the guest.
        var entries = await NvmeDiscovery.GetLogAsync(NvmeControllerOptions.Default with { TargetPort = Vm.Port, SubsystemNqn = WellKnownNqns.Discovery });

        Assert.That(entries, Has.Some.Matches<NvmeDiscoveryEntry>(e => e.SubsystemNqn == LinuxTargetVm.SubsystemNqn
            && e.SubsystemType == DiscoveryLogEntry.SubTypeNvm && e.TransportType == DiscoveryLogEntry.TrTypeTcp && e.TransportServiceId == "4420"));
    }

    [Test]
    public async Task Cli_DiscoverJson_PrintsRecordsWithNvmeCliFieldNames()
    {
        using var stdout = new MemoryStream();
        using var error = new StringWriter();
        var rc = await Program.RunAsync(["discover", "-a", "127.0.0.1", "-s", Vm.Port.ToString(System.Globalization.CultureInfo.InvariantCulture), "-o", "json"],
            TextWriter.Null, error, Stream.Null, stdout, CancellationToken.None);

        Assert.That(rc, Is.Zero, error.ToString());
        var text = Encoding.UTF8.GetString(stdout.ToArray());
        Assert.That(text, Does.Contain("\"subnqn\": \"" + LinuxTargetVm.SubsystemNqn + "\"").And.Contain("\"trtype\": \"tcp\"").And.Contain("\"subtype\": \"nvme subsystem\""));
    }

    [TestCase(1)]
    [TestCase(4)]
    public async Task Connect_IoQueues_IdentifiesControllerAndNamespace(int ioQueues)
    {
        await using var controller = await NvmeController.ConnectAsync(Options(ioQueues));

        Assert.That(controller.State, Is.EqualTo(NvmeControllerState.Live));
        Assert.That(controller.IoQueueCount, Is.EqualTo(ioQueues));
        Assert.That(controller.Identify.SubsystemNqn, Is.EqualTo(LinuxTargetVm.SubsystemNqn));
        Assert.That(controller.Identify.ControllerType, Is.EqualTo(NvmeControllerType.Io));
        Assert.That(controller.Identify.ControllerId, Is.EqualTo(controller.ControllerId));
        Assert.That(await controller.GetActiveNamespacesAsync(), Does.Contain(1u));
        var ns = await controller.OpenNamespaceAsync(1);
        Assert.That(ns.BlockCount, Is.GreaterThan(0ul));
        Assert.That(ns.LbaSize, Is.EqualTo(512).Or.EqualTo(4096));
        var descriptors = await controller.GetNamespaceDescriptorsAsync(1);
        Assert.That(descriptors.CommandSet, Is.EqualTo((byte)0).Or.Null);
        Assert.That(await controller.GetFeatureAsync(FeatureIds.KeepAliveTimer), Is.EqualTo(5000u));
    }

    [TestCase(1, false)]
    [TestCase(4, false)]
    [TestCase(1, true)]
    [TestCase(4, true)]
    public async Task WriteThenRead_16MiB_AtDepth32_ReadsBackWhatWasWritten(int ioQueues, bool digests)
    {
        await using var controller = await NvmeController.ConnectAsync(Options(ioQueues, digests));
        var ns = await controller.OpenNamespaceAsync(1);
        const int Total = 16 * 1024 * 1024;
        var written = new byte[Total];
        new Random(ioQueues * 10 + (digests ? 1 : 0)).NextBytes(written);
        var read = new byte[Total];

        var writeTime = await RunAtDepthAsync(ns, written, read: null, depth: 32, chunk: 128 * 1024);
        var readTime = await RunAtDepthAsync(ns, written, read, depth: 32, chunk: 128 * 1024);

        TestContext.Out.WriteLine($"queues {ioQueues} digests {digests}: write {Total / 1e6 / writeTime.TotalSeconds:0.0} MB/s, read {Total / 1e6 / readTime.TotalSeconds:0.0} MB/s");
        Assert.That(read.AsSpan().SequenceEqual(written), Is.True, "read-back differs from what was written");
    }

    [Test]
    public async Task ConnectionCut_DuringIo_ReconnectsToNewControllerAndCompletesEveryCommand()
    {
        var factory = new InitiatorTestFactory();
        await using var controller = await NvmeController.ConnectAsync(Options(2), factory.Factory);
        var ns = await controller.OpenNamespaceAsync(1);
        var states = new System.Collections.Concurrent.ConcurrentQueue<NvmeControllerState>();
        controller.StateChanged += (_, change) => states.Enqueue(change.Current);
        const int Total = 8 * 1024 * 1024;
        var written = new byte[Total];
        new Random(7).NextBytes(written);

        var io = RunAtDepthAsync(ns, written, read: null, depth: 16, chunk: 64 * 1024);
        while (!io.IsCompleted && factory.Opened < 3)
        {
            await Task.Delay(10);
        }

        factory.Cut(1);
        await io;
        var read = new byte[Total];
        await RunAtDepthAsync(ns, written, read, depth: 16, chunk: 64 * 1024);

        Assert.That(factory.Opened, Is.GreaterThan(3), "no reconnect happened");
        Assert.That(controller.State, Is.EqualTo(NvmeControllerState.Live));
        Assert.That(states, Is.EqualTo(new[] { NvmeControllerState.Resetting, NvmeControllerState.Live }));
        Assert.That(read.AsSpan().SequenceEqual(written), Is.True, "data written across the reconnect differs");
    }

    [Test]
    public async Task KeepAlive_IdleForTwiceTheKato_KernelKeepsTheController()
    {
        // Without our Keep Alive the kernel would log "keep alive timer expired" and tear the controller down.
        await using var controller = await NvmeController.ConnectAsync(Options(1) with { KeepAliveTimeout = TimeSpan.FromSeconds(2) });
        var states = new System.Collections.Concurrent.ConcurrentQueue<NvmeControllerState>();
        controller.StateChanged += (_, change) => states.Enqueue(change.Current);
        var ns = await controller.OpenNamespaceAsync(1);

        await Task.Delay(TimeSpan.FromSeconds(5));
        await ns.ReadAsync(0, new byte[4096]);

        Assert.That(states, Is.Empty, "the controller was reset while idle");
        Assert.That(await controller.GetFeatureAsync(FeatureIds.KeepAliveTimer), Is.EqualTo(2000u));
    }

    /// <summary>Writes <paramref name="data"/> (or reads into <paramref name="read"/>) in chunks with <paramref name="depth"/> commands in flight.</summary>
    private static async Task<TimeSpan> RunAtDepthAsync(NvmeNamespace ns, byte[] data, byte[]? read, int depth, int chunk)
    {
        var next = -1;
        var chunks = data.Length / chunk;
        var watch = Stopwatch.StartNew();
        var workers = new Task[depth];
        for (var w = 0; w < depth; w++)
        {
            workers[w] = Task.Run(async () =>
            {
                int i;
                while ((i = Interlocked.Increment(ref next)) < chunks)
                {
                    var lba = (ulong)(i * chunk / ns.LbaSize);
                    if (read is null)
                    {
                        await ns.WriteAsync(lba, data.AsMemory(i * chunk, chunk));
                    }
                    else
                    {
                        await ns.ReadAsync(lba, read.AsMemory(i * chunk, chunk));
                    }
                }
            });
        }

        await Task.WhenAll(workers);
        return watch.Elapsed;
    }
}
