using Microsoft.Extensions.Logging.Abstractions;
using NvmeMptls.Initiator;
using NvmeMptls.Initiator.Transport;
using NvmeMptls.IntegrationTests.TestKit;
using NvmeMptls.Target.Configuration;
using NvmeMptls.Target.Hosting;
using NvmeMptls.Target.Server;
using NvmeMptls.TestKit;
using NvmeMptls.Transport.Multipath;

namespace NvmeMptls.IntegrationTests.EndToEnd;

/// <summary>
/// NVMe/TCP with TLS 1.3 (required on the port) over MPTCP in the two-path test bed: the good path, refused
/// clients counted while a good client keeps working, and key-limit reconnects / KeyUpdates under a verified load.
/// </summary>
[TestFixture]
[NonParallelizable]
public sealed class TlsEndToEndTests : TestbedFixture
{
    private static readonly string GoodKey = EndToEndKit.Key(1);
    private static readonly string WrongKey = EndToEndKit.Key(2);
    private static readonly string OtherKey = EndToEndKit.Key(3);

    protected override string Tag => "e2et";

    [Test]
    public async Task TlsOverMptcp_RightKey_VerifiedMixedIoOnTwoSubflows()
    {
        var counters = new TlsHandshakeCounters();
        await using var target = EndToEndKit.StartTarget(Bed, tls: TlsMode.Required, security: EndToEndKit.TargetTls(counters, GoodKey));
        var options = EndToEndKit.Options(Bed, target, NvmeMultipathPolicy.Required) with { Tls = true, TlsKey = GoodKey };
        await using var controller = await NvmeController.ConnectAsync(options);
        await EndToEndKit.WaitForSubflowsAsync(controller, 2);
        var ns = await controller.OpenNamespaceAsync(1);

        var report = await EndToEndKit.BenchAsync(ns, "--name=tls", "--rw=randrw", "--bs=64k", "--iodepth=16", "--size=64m", "--verify=crc32c");
        var listing = EndToEndKit.Listing(controller);
        EndToEndKit.Print("TLS over MPTCP: " + EndToEndKit.Summary(report) + $"; target handshakes ok {counters.Get("ok")}\n" + listing);

        EndToEndKit.AssertClean(report);
        Assert.That(counters.Get("ok"), Is.EqualTo(3), "admin + 2 I/O queues");
        foreach (var p in controller.GetQueuePaths())
        {
            Assert.That(p.Transport, Is.EqualTo("tls/mptcp"));
            Assert.That(p.Tls, Is.Not.Null);
            Assert.That(p.Tls!.PskIdentity, Does.Contain(EndToEndKit.HostNqnA));
        }

        foreach (var p in EndToEndKit.IoPaths(controller))
        {
            Assert.That(p.Multipath!.Subflows, Has.Count.EqualTo(2), string.Join("; ", p.Multipath.Subflows));
        }
    }

    [Test]
    public async Task BadClients_RefusedCleanlyAndCounted_WhileAGoodClientKeepsVerifiedIo()
    {
        var counters = new TlsHandshakeCounters();
        await using var target = EndToEndKit.StartTarget(Bed, tls: TlsMode.Required, security: EndToEndKit.TargetTls(counters, GoodKey));
        var good = EndToEndKit.Options(Bed, target, NvmeMultipathPolicy.Preferred) with { Tls = true, TlsKey = GoodKey };
        await using var controller = await NvmeController.ConnectAsync(good);
        var ns = await controller.OpenNamespaceAsync(1);
        var load = EndToEndKit.BenchAsync(ns, "--name=good", "--rw=randrw", "--bs=16k", "--iodepth=8", "--size=32m",
            "--time_based", "--runtime=12", "--verify=crc32c");
        await Task.Delay(1000);
        var rejectedBefore = Interlocked.Read(ref target.Server.Registry.Counters.ConnectRejected);

        var bad = good with { IoQueueCount = 1, ControllerLossTimeout = TimeSpan.Zero, ConnectTimeout = TimeSpan.FromSeconds(5) };
        // A v1 identity carries a digest of the key, so a wrong key is an identity the target does not know; a v0
        // identity (no digest) finds the target's key for host A and fails the PSK binder instead.
        var wrongKey = await FailAsync("wrong key (v1 identity)", bad with { TlsKey = WrongKey });
        var wrongKeyV0 = await FailAsync("wrong key (v0 identity)", bad with { TlsKey = WrongKey, TlsIdentityVersion = 0 });
        var unknown = await FailAsync("unknown identity", bad with { TlsKey = OtherKey, SubsystemNqn = "nqn.2026-01.io.nvmemptls:other" });
        var plaintext = await FailAsync("plaintext connect", bad with { Tls = false, TlsKey = null });

        // TLS as host A (whose key the target holds), but the Fabrics Connect names host B.
        NvmeQueueConnector asHostA = async (endpoint, ct) =>
            await NvmeConnectionFactory.ConnectAsync(endpoint with { Options = endpoint.Options with { HostNqn = EndToEndKit.HostNqnA } }, NullLoggerFactory.Instance, ct);
        var hostB = bad with { HostNqn = EndToEndKit.HostNqnB, HostId = Guid.Parse("0b0b0b0b-0000-4000-8000-00000000000b") };
        var otherHost = await FailAsync("Connect with another host's NQN", hostB, asHostA);

        var report = await load;
        var rejected = Interlocked.Read(ref target.Server.Registry.Counters.ConnectRejected) - rejectedBefore;
        var byOutcome = string.Join(", ", counters.ByOutcome.OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => $"{kv.Key}={kv.Value}"));
        EndToEndKit.Print($"good client during the bad attempts: {EndToEndKit.Summary(report)}");
        EndToEndKit.Print($"target TLS handshakes: {byOutcome}; registry ConnectRejected +{rejected}");

        EndToEndKit.AssertClean(report);
        Assert.Multiple(() =>
        {
            Assert.That(wrongKey, Does.Contain("TLS handshake failed (UnknownIdentity)").And.Contain("unknown_psk_identity"), "wrong key, v1");
            Assert.That(wrongKeyV0, Does.Contain("TLS handshake failed (PskMismatch)"), "wrong key, v0");
            Assert.That(unknown, Does.Contain("TLS handshake failed (UnknownIdentity)").And.Contain("unknown_psk_identity"), "unknown identity");
            Assert.That(plaintext, Does.Contain("instead of answering ICReq (does the port require TLS").Or.Contain("reset by peer"), "plaintext ICReq on a TLS-only port");
            Assert.That(otherHost, Does.Contain("Connect Invalid Host").And.Contain(EndToEndKit.HostNqnB), "host NQN mismatch");
            Assert.That(counters.Get("PskMismatch"), Is.EqualTo(1), byOutcome);
            Assert.That(counters.Get("UnknownIdentity"), Is.EqualTo(2), byOutcome);
            Assert.That(counters.Get("plaintext-refused"), Is.EqualTo(1), byOutcome);
            Assert.That(rejected, Is.EqualTo(2), "plaintext + host NQN mismatch");
            Assert.That(controller.State, Is.EqualTo(NvmeControllerState.Live));
        });
    }

    [TestCase(false)]
    [TestCase(true)]
    public async Task SmallKeyLimit_LongVerifiedRun_CrossesSeveralReconnectsOrKeyUpdatesWithoutErrors(bool keyUpdate)
    {
        const long Limit = 2000;
        var counters = new TlsHandshakeCounters();
        var security = EndToEndKit.TargetTls(counters, GoodKey, keyUpdate ? KeyUpdateMode.KeyUpdate : KeyUpdateMode.Reconnect, Limit);
        await using var target = EndToEndKit.StartTarget(Bed, tls: TlsMode.Required, security: security);
        var options = EndToEndKit.Options(Bed, target, NvmeMultipathPolicy.Preferred) with
        {
            Tls = true, TlsKey = GoodKey, TlsKeyLimitRecords = Limit, TlsKeyUpdate = keyUpdate,
        };
        var opened = new System.Collections.Concurrent.ConcurrentQueue<Transport.Tls.TlsRecordConnection>();
        NvmeQueueConnector factory = async (endpoint, ct) =>
        {
            var connection = await NvmeConnectionFactory.ConnectAsync(endpoint, NullLoggerFactory.Instance, ct);
            opened.Enqueue((Transport.Tls.TlsRecordConnection)connection);
            return connection;
        };
        await using var controller = await NvmeController.ConnectAsync(options, factory);
        var lives = 0;
        controller.StateChanged += (_, change) =>
        {
            if (change.Current == NvmeControllerState.Live)
            {
                Interlocked.Increment(ref lives);
            }
        };
        var ns = await controller.OpenNamespaceAsync(1);

        var report = await EndToEndKit.BenchAsync(ns, "--name=keylimit", "--rw=randrw", "--bs=64k", "--iodepth=16", "--size=64m",
            "--time_based", "--runtime=10", "--verify=crc32c");
        var connections = opened.ToArray();
        long sealedRecords = connections.Sum(c => c.RecordsSealed);
        int updatesSent = connections.Sum(c => c.KeyUpdatesSent);
        int updatesReceived = connections.Sum(c => c.KeyUpdatesReceived);
        int reconnects = Volatile.Read(ref lives);
        EndToEndKit.Print($"key limit {Limit} records, policy {(keyUpdate ? "SendKeyUpdate (both ends)" : "reconnect-before-limit")}: "
            + EndToEndKit.Summary(report));
        EndToEndKit.Print($"initiator: {connections.Length} TLS connections opened (3 at start), controller reconnects {reconnects}, "
            + $"records sealed {sealedRecords}, KeyUpdates sent {updatesSent}, received {updatesReceived}; target handshakes ok {counters.Get("ok")}");

        EndToEndKit.AssertClean(report);
        if (keyUpdate)
        {
            Assert.That(updatesSent, Is.GreaterThanOrEqualTo(3), "the initiator rolled its write key several times");
            Assert.That(updatesReceived, Is.GreaterThanOrEqualTo(3), "the target rolled its write key several times");
            Assert.That(connections, Has.Length.EqualTo(3), "KeyUpdate needs no reconnect");
        }
        else
        {
            Assert.That(reconnects, Is.GreaterThanOrEqualTo(3), "the controller reconnected before the key limit several times");
            Assert.That(connections.Length, Is.GreaterThan(3 * 3));
            Assert.That(updatesSent + updatesReceived, Is.Zero, "no KeyUpdate under the reconnect policy");
        }
    }

    private static async Task<string> FailAsync(string what, NvmeControllerOptions options,
        NvmeQueueConnector? factory = null)
    {
        try
        {
            var controller = await NvmeController.ConnectAsync(options, factory).WaitAsync(EndToEndKit.HangLimit);
            await controller.DisposeAsync();
        }
        catch (Exception ex) when (ex is IOException or NvmeMptls.Transport.Nvme.NvmeStatusException or Crypto.Handshake.TlsHandshakeException)
        {
            EndToEndKit.Print($"{what}: {ex.GetType().Name}: {ex.Message}");
            return ex.GetType().Name + ": " + ex.Message;
        }

        Assert.Fail($"{what}: the connect succeeded");
        return "";
    }
}
