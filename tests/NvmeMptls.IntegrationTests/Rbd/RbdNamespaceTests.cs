using System.Text.RegularExpressions;
using NvmeMptls.IntegrationTests.Loopback;
using NvmeMptls.IntegrationTests.TestKit;
using NvmeMptls.Target.Namespaces;
using NvmeMptls.Transport.Nvme;

namespace NvmeMptls.IntegrationTests.Rbd;

/// <summary>Starts the single-node Ceph once for every RBD test and stops it afterwards.</summary>
[SetUpFixture]
public sealed class RbdClusterFixture
{
    private static string? s_skipReason;

    internal static CephMiniCluster? Cluster { get; private set; }

    internal static CephMiniCluster Require()
    {
        if (Cluster is null)
        {
            Assert.Ignore(s_skipReason ?? "the Ceph test cluster did not start");
        }

        return Cluster!;
    }

    [OneTimeSetUp]
    public void Start() => Cluster = CephMiniCluster.TryStart(out s_skipReason);

    [OneTimeTearDown]
    public void Stop()
    {
        Cluster?.Dispose();
        Cluster = null;
    }
}

/// <summary>
/// RBD namespaces against a real Ceph: our initiator writes and reads through the target's librbd backend, and
/// what arrived is checked through a second path (`rbd export` by another Ceph client). Resizes are announced,
/// and a fenced (blocklisted) backend fails I/O with a path-related status.
/// </summary>
[NonParallelizable]
public sealed partial class RbdNamespaceTests
{
    private const long ImageBytes = 64L << 20;

    private static RbdBlockDevice OpenImage(CephMiniCluster cluster, string image) =>
        RbdBlockDevice.Open(new RbdImageLocation("rbd", image, CephConf: cluster.CephConf), sizePollInterval: TimeSpan.FromMilliseconds(200));

    [Test]
    public async Task VerifyWorkload_FourQueuesDepth16_CephHoldsExactlyWhatWasWritten()
    {
        var cluster = RbdClusterFixture.Require();
        cluster.CreateImage("verify", "64M");
        await using var nvme = await NvmeLoopback.StartAsync(ImageBytes, ioQueues: 4, queueSize: 16, backing: _ => OpenImage(cluster, "verify"));
        var lba = nvme.Namespace.LbaSize;
        Assert.That(nvme.Namespace.BlockCount, Is.EqualTo((ulong)(ImageBytes / lba)));

        // Random-order 64 KiB writes over the whole image, every eighth one FUA (write + flush barrier).
        var expected = new byte[ImageBytes];
        new Random(14).NextBytes(expected);
        const int Chunk = 64 * 1024;
        var order = Enumerable.Range(0, (int)(ImageBytes / Chunk)).ToArray();
        new Random(15).Shuffle(order);
        await LoopbackIoTests.RunConcurrent(order.Length, 64, i =>
            nvme.Namespace.WriteAsync((ulong)((long)order[i] * Chunk / lba), expected.AsMemory(order[i] * Chunk, Chunk), forceUnitAccess: i % 8 == 0));

        // Write Zeroes and Deallocate (DLFEAT says deallocated blocks read zeroes), one unaligned to RBD's objects.
        await nvme.Namespace.WriteZeroesAsync(1000, 300);
        expected.AsSpan(1000 * lba, 300 * lba).Clear();
        await nvme.Namespace.DeallocateAsync(40_000, 9_000);
        expected.AsSpan(40_000 * lba, 9_000 * lba).Clear();

        // Random-size reads at random offsets, checked against what was written.
        var random = new Random(16);
        var mismatches = 0;
        await LoopbackIoTests.RunConcurrent(1024, 64, async _ =>
        {
            int blocks;
            long start;
            lock (random)
            {
                blocks = random.Next(1, 128 * 1024 / lba + 1);
                start = random.NextInt64(0, ImageBytes / lba - blocks);
            }

            var buffer = new byte[blocks * lba];
            await nvme.Namespace.ReadAsync((ulong)start, buffer);
            if (!buffer.AsSpan().SequenceEqual(expected.AsSpan((int)(start * lba), buffer.Length)))
            {
                Interlocked.Increment(ref mismatches);
            }
        });
        await nvme.Namespace.FlushAsync();

        // The second path: another Ceph client exports the image; librbd's cache was flushed by the NVMe Flush.
        var export = Path.Combine(cluster.Directory, "verify.export");
        cluster.Rbd($"export rbd/verify {export} --no-progress");
        var inCeph = await File.ReadAllBytesAsync(export);
        Assert.Multiple(() =>
        {
            Assert.That(mismatches, Is.Zero, "reads through the target returned other bytes than written");
            Assert.That(inCeph.Length, Is.EqualTo(expected.Length));
            Assert.That(inCeph.AsSpan().SequenceEqual(expected), Is.True, "rbd export differs from what was written");
        });
    }

    [Test]
    public async Task ImageResized_NamespaceAttributeChangedAnnounced_AndNewBlocksWritable()
    {
        var cluster = RbdClusterFixture.Require();
        cluster.CreateImage("grow", "32M");
        await using var nvme = await NvmeLoopback.StartAsync(32L << 20, ioQueues: 1, queueSize: 16, backing: _ => OpenImage(cluster, "grow"));
        var changed = new TaskCompletionSource<IReadOnlyList<uint>>(TaskCreationOptions.RunContinuationsAsynchronously);
        nvme.Controller.NamespacesChanged += (_, change) => changed.TrySetResult(change.Namespaces);

        cluster.Rbd("resize --size 48M rbd/grow");
        var namespaces = await changed.Task.WaitAsync(TimeSpan.FromSeconds(20));
        var info = await nvme.Controller.IdentifyNamespaceAsync(1);
        Assert.Multiple(() =>
        {
            Assert.That(namespaces, Does.Contain(1u), "the changed namespace list names NSID 1");
            Assert.That(info.BlockCount, Is.EqualTo((ulong)(48L << 20) / 512), "Identify Namespace NSZE after the resize");
        });

        // A block beyond the old end is now in range on the target.
        var data = new byte[4096];
        new Random(17).NextBytes(data);
        var resized = await nvme.Controller.OpenNamespaceAsync(1);
        await resized.WriteAsync((ulong)(40L << 20) / 512, data);
        var back = new byte[4096];
        await resized.ReadAsync((ulong)(40L << 20) / 512, back);
        Assert.That(back, Is.EqualTo(data));
    }

    [Test]
    public async Task BlocklistedBackend_WritesFailWithInternalPathError_AndTheTargetGoesOn()
    {
        var cluster = RbdClusterFixture.Require();
        cluster.CreateImage("fenced", "16M");
        RbdBlockDevice? device = null;
        await using var nvme = await NvmeLoopback.StartAsync(16L << 20, ioQueues: 1, queueSize: 16, backing: _ => device = OpenImage(cluster, "fenced"));
        var data = new byte[4096];
        await nvme.Namespace.WriteAsync(0, data);

        // `ceph osd blocklist add` takes one address of the client, "127.0.0.1:0/NONCE".
        var address = ClientAddress().Match(device!.ClientAddresses()).Value;
        Assert.That(address, Is.Not.Empty, "rados_getaddrs gave no 127.0.0.1 address");
        cluster.Ceph($"osd blocklist add {address} 600");
        try
        {
            var error = Assert.ThrowsAsync<NvmeStatusException>(async () => await nvme.Namespace.WriteAsync(8, data).AsTask().WaitAsync(TimeSpan.FromSeconds(60)));
            Assert.Multiple(() =>
            {
                Assert.That(error!.Status.StatusCodeType, Is.EqualTo(3), "SCT 3h: path related");
                Assert.That(error.Status.Is(NvmeStatusCodes.InternalPathError), Is.True, error.Status.ToString());
                Assert.That(error.Status.DoNotRetry, Is.False, "another path may succeed");
            });

            // The queue and the controller survive: an admin command still answers.
            var info = await nvme.Controller.IdentifyNamespaceAsync(1);
            Assert.That(info.BlockCount, Is.EqualTo((ulong)(16L << 20) / 512));
        }
        finally
        {
            cluster.Ceph($"osd blocklist rm {address}");
        }
    }

    [GeneratedRegex(@"127\.0\.0\.1:\d+/\d+")]
    private static partial Regex ClientAddress();
}
