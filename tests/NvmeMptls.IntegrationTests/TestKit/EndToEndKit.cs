using System.Collections.Immutable;
using System.Globalization;
using Microsoft.Extensions.Logging.Abstractions;
using NvmeMptls.Cli.Commands;
using NvmeMptls.Initiator;
using NvmeMptls.Initiator.LoadGen;
using NvmeMptls.Target.Configuration;
using NvmeMptls.Target.Hosting;
using NvmeMptls.Target.Server;
using NvmeMptls.TestKit;
using NvmeMptls.Transport.Multipath;

namespace NvmeMptls.IntegrationTests.TestKit;

/// <summary>
/// End-to-end helpers: the in-process target listening in a test bed's target namespace, initiator options that
/// open their sockets in the initiator namespace, verified workloads through the bench engine, subflow waits and
/// the <c>nvme-mptls status</c> listing of a live controller.
/// </summary>
public static class EndToEndKit
{
    /// <summary>Upper bound for any single wait or workload: a hang fails the test instead of stalling CI.</summary>
    public static readonly TimeSpan HangLimit = TimeSpan.FromSeconds(120);

    public const string HostNqnA = "nqn.2014-08.org.nvmexpress:uuid:0a0a0a0a-0000-4000-8000-00000000000a";
    public const string HostNqnB = "nqn.2014-08.org.nvmexpress:uuid:0b0b0b0b-0000-4000-8000-00000000000b";

    /// <summary>A 32-byte configured PSK in interchange format, different for each <paramref name="seed"/>.</summary>
    public static string Key(byte seed)
    {
        var key = new byte[32];
        for (var i = 0; i < key.Length; i++)
        {
            key[i] = (byte)(seed * 31 + i * 7 + 1);
        }

        return Interop.LinuxHostTlsKeys.InterchangeKey(key);
    }

    /// <summary>The target in <paramref name="bed"/>'s target namespace on TargetAddress(1), optionally TLS-only.</summary>
    public static LoopbackTarget StartTarget(Testbed bed, MultipathMode multipath = MultipathMode.Preferred, TlsMode tls = TlsMode.None,
        ConnectionSecurity? security = null, long namespaceBytes = 256L << 20) =>
        LoopbackTarget.Start(namespaceBytes: namespaceBytes, multipath: multipath, tls: tls, security: security,
            address: Testbed.TargetAddress(1).ToString(), networkNamespace: bed.TargetNamespace);

    /// <summary>TLS on the target holding one key bound to host A and the loopback subsystem.</summary>
    public static ConnectionSecurity TargetTls(TlsHandshakeCounters counters, string key, KeyUpdateMode keyUpdate = KeyUpdateMode.Reconnect,
        long? keyLimitRecords = null)
    {
        var options = new TargetOptions
        {
            Tls = new TlsOptions
            {
                Keys = [new TlsKeyOptions { Key = key, HostNqn = HostNqnA, SubsystemNqn = LoopbackTarget.SubsystemNqn }],
                KeyUpdate = keyUpdate,
                KeyLimitRecords = keyLimitRecords,
            },
        };
        return TargetSecurity.Create(options, NullLoggerFactory.Instance, counters)
            ?? throw new InvalidOperationException("TargetSecurity.Create returned null with a key configured");
    }

    /// <summary>Initiator options for the target: sockets in the initiator namespace, quick reconnects.</summary>
    public static NvmeControllerOptions Options(Testbed bed, LoopbackTarget target, NvmeMultipathPolicy policy = NvmeMultipathPolicy.Preferred, int ioQueues = 2) =>
        NvmeControllerOptions.Default with
        {
            TargetAddress = Testbed.TargetAddress(1).ToString(),
            TargetPort = target.Port,
            SubsystemNqn = LoopbackTarget.SubsystemNqn,
            HostNqn = HostNqnA,
            HostId = Guid.Parse("0a0a0a0a-0000-4000-8000-00000000000a"),
            IoQueueCount = ioQueues,
            Multipath = policy,
            NetworkNamespace = bed.InitiatorNamespace,
            ReconnectDelay = TimeSpan.FromMilliseconds(200),
            ControllerLossTimeout = TimeSpan.FromSeconds(60),
            ConnectTimeout = TimeSpan.FromSeconds(10),
        };

    public static Task<BenchReport> BenchAsync(INamespaceDevice device, params string[] args) =>
        BenchRunner.RunAsync(BenchJobParser.Parse(args), (_, _) => ValueTask.FromResult(device), TextWriter.Null, new BenchRunOptions(), CancellationToken.None)
            .WaitAsync(HangLimit + TimeSpan.FromSeconds(60));

    /// <summary>One line with the numbers a verified run is judged by.</summary>
    public static string Summary(BenchReport report)
    {
        long reads = 0, writes = 0, verified = 0, verifyErrors = 0, errors = 0;
        foreach (var job in report.Jobs)
        {
            reads += job.Read.Ios;
            writes += job.Write.Ios;
            verified += job.VerifiedBlocks;
            verifyErrors += job.VerifyErrors;
            errors += job.IoErrors;
        }

        return string.Create(CultureInfo.InvariantCulture,
            $"I/Os {reads + writes} (reads {reads}, writes {writes}), I/O errors {errors}, verified blocks {verified}, verify errors {verifyErrors}, fio error {report.Jobs[0].Error}");
    }

    /// <summary>Asserts a verified run: no I/O errors, no verify errors, some blocks verified.</summary>
    public static void AssertClean(BenchReport report)
    {
        var job = report.Jobs[0];
        Assert.Multiple(() =>
        {
            Assert.That(report.TotalErrors, Is.Zero, report.ToText());
            Assert.That(job.Error, Is.Zero, "fio-style error code");
            Assert.That(job.VerifyErrors, Is.Zero, "blocks that failed crc32c verification");
            Assert.That(job.VerifiedBlocks, Is.GreaterThan(0), "blocks read back and verified");
            Assert.That(job.Failures, Is.Empty);
        });
    }

    /// <summary>The listing <c>nvme-mptls status</c> prints for this controller.</summary>
    public static string Listing(NvmeController controller)
    {
        using var text = new StringWriter(CultureInfo.InvariantCulture);
        StatusCommand.WriteText(text, controller, controller.GetQueuePaths());
        return text.ToString();
    }

    /// <summary>Waits until every I/O queue has <paramref name="count"/> established subflows; returns the I/O queue paths.</summary>
    public static async Task<IReadOnlyList<QueuePath>> WaitForSubflowsAsync(NvmeController controller, int count, TimeSpan? limit = null)
    {
        var deadline = DateTime.UtcNow + (limit ?? TimeSpan.FromSeconds(20));
        while (true)
        {
            var io = IoPaths(controller);
            if (io.Count > 0 && io.All(p => p.Multipath is { } m && m.Subflows.Count(s => s.State == "established") >= count))
            {
                return io;
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new AssertionException($"gave up waiting for {count} subflows on every I/O queue:\n{Listing(controller)}");
            }

            await Task.Delay(100);
        }
    }

    public static IReadOnlyList<QueuePath> IoPaths(NvmeController controller) =>
        controller.GetQueuePaths().Where(p => p.QueueId > 0).ToImmutableArray();

    /// <summary>The subflow of <paramref name="status"/> on test bed path <paramref name="path"/>, or null.</summary>
    public static QueueSubflow? OnPath(QueueMultipathInfo status, int path) =>
        status.Subflows.FirstOrDefault(s => s.Local.Address.Equals(Testbed.InitiatorAddress(path)) || s.Remote.Address.Equals(Testbed.InitiatorAddress(path)));

    /// <summary>Bytes the initiator sent on path <paramref name="path"/>, summed over the I/O queues.</summary>
    public static ulong SentOnPath(NvmeController controller, int path) =>
        IoPaths(controller).Aggregate(0UL, (sum, p) => sum + (p.Multipath is { } m && OnPath(m, path) is { } s ? s.BytesSent : 0));

    /// <summary>
    /// Bytes of the initiator's sends on path <paramref name="path"/> that the target acknowledged, summed over the
    /// I/O queues: unlike <see cref="SentOnPath"/> it does not count what a downed link dropped.
    /// </summary>
    public static ulong AckedOnPath(NvmeController controller, int path) =>
        IoPaths(controller).Aggregate(0UL, (sum, p) => sum + (p.Multipath is { } m && OnPath(m, path) is { } s ? s.BytesAcked : 0));

    public static void Print(string text) => TestContext.Out.WriteLine(text);
}
