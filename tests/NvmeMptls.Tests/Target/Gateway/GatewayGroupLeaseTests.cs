using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using NvmeMptls.Target.Gateway;

namespace NvmeMptls.Tests.Target.Gateway;

/// <summary>The lease state machine of one ANA group on two gateways, over a fake lock on a fake clock.</summary>
[TestFixture]
public sealed class GatewayGroupLeaseTests
{
    private static readonly TimeSpan Duration = TimeSpan.FromSeconds(15);
    private static readonly TimeSpan Margin = TimeSpan.FromSeconds(3);

    private FakeTimeProvider _time = null!;
    private FakeLeaseCluster _cluster = null!;
    private readonly List<IDisposable> _disposables = [];

    [SetUp]
    public void SetUp()
    {
        _time = new FakeTimeProvider(DateTimeOffset.Parse("2026-12-06T12:00:00Z", System.Globalization.CultureInfo.InvariantCulture));
        _cluster = new FakeLeaseCluster(_time);
    }

    [TearDown]
    public void TearDown()
    {
        foreach (var d in _disposables)
        {
            d.Dispose();
        }

        _disposables.Clear();
    }

    private sealed record Gateway(GatewayGroupLease Lease, FakeLeaseCluster.Client Store, List<GatewayRole> Roles);

    private Gateway Start(string name, string? preferred = "gw1", TimeSpan? drain = null)
    {
        var store = _cluster.Connect($"127.0.0.1:0/{name}-lease");
        var roles = new List<GatewayRole>();
        var settings = new GatewayLeaseSettings { Gateway = name, Duration = Duration, SafetyMargin = Margin, PlannedMoveDrain = drain ?? TimeSpan.Zero };
        var lease = new GatewayGroupLease(2, settings, store, () => [$"127.0.0.1:0/{name}-image"], (_, r) => roles.Add(r), _time, NullLogger.Instance, preferred);
        _disposables.Add(lease);
        return new Gateway(lease, store, roles);
    }

    [Test]
    public void FreeGroup_PreferredOwnerTakesItAtOnce_TheOtherStaysStandbyAndSeesTheOwner()
    {
        var gw1 = Start("gw1");
        var gw2 = Start("gw2");
        gw2.Lease.Step();
        Assert.That(gw2.Lease.Role, Is.EqualTo(GatewayRole.Standby), "not the preferred owner: waits one poll");
        gw1.Lease.Step();
        gw2.Lease.Step();
        Assert.Multiple(() =>
        {
            Assert.That(gw1.Lease.Role, Is.EqualTo(GatewayRole.Owner));
            Assert.That(gw1.Roles, Is.EqualTo(new[] { GatewayRole.Owner }));
            Assert.That(gw2.Lease.Role, Is.EqualTo(GatewayRole.Standby));
            Assert.That(gw2.Lease.Owner, Is.EqualTo("gw1"));
            Assert.That(_cluster.OwnerAttribute, Does.StartWith("gw1;"));
            Assert.That(_cluster.Operations, Is.EqualTo(new[] { "lock gw1", "owner gw1" }), "nothing to fence on a fresh object");
        });
    }

    [Test]
    public void OwnerRenewingEveryThirdOfTheDuration_StaysOwnerForAnHour()
    {
        var gw1 = Start("gw1");
        var gw2 = Start("gw2");
        gw1.Lease.Step();
        for (int i = 0; i < 3600 / 5; i++)
        {
            _time.Advance(Duration / 3);
            gw1.Lease.Step();
            gw2.Lease.Step();
        }

        Assert.Multiple(() =>
        {
            Assert.That(gw1.Roles, Is.EqualTo(new[] { GatewayRole.Owner }));
            Assert.That(gw2.Roles, Is.Empty);
            Assert.That(_cluster.Blocklist, Is.Empty);
        });
    }

    [Test]
    public void RenewalThatHangs_PortsGoInaccessibleBeforeTheLeaseCanExpire_AndTheTakerFencesBeforeLocking()
    {
        var gw1 = Start("gw1");
        var gw2 = Start("gw2");
        gw1.Lease.Step();
        long lockedAt = _time.GetTimestamp();

        // The cluster stops answering gw1: its renewal call hangs (on another thread) while time passes.
        using var hang = new ManualResetEventSlim(false);
        gw1.Store.Hang = hang;
        _time.Advance(Duration / 3);
        var renewal = Task.Run(gw1.Lease.Step);
        _time.Advance(Duration - Margin - Duration / 3 - TimeSpan.FromMilliseconds(1));
        Assert.That(gw1.Lease.Role, Is.EqualTo(GatewayRole.Owner), "still inside duration - margin");
        _time.Advance(TimeSpan.FromMilliseconds(1));
        Assert.Multiple(() =>
        {
            Assert.That(gw1.Lease.Role, Is.EqualTo(GatewayRole.Uncertain), "inaccessible at duration - margin, while the call still hangs");
            Assert.That(renewal.IsCompleted, Is.False);
            Assert.That(_cluster.Holder, Does.StartWith("gw1;"), "the OSD still lists gw1: nobody else can have it yet");
        });

        // gw2 cannot take it before the lock expires on the cluster's clock.
        gw2.Lease.Step();
        Assert.That(gw2.Lease.Role, Is.EqualTo(GatewayRole.Standby));
        _time.Advance(Margin);
        Assert.That(_time.GetElapsedTime(lockedAt), Is.EqualTo(Duration));
        gw2.Lease.Step();
        _time.Advance(Duration / 3);
        gw2.Lease.Step();
        Assert.Multiple(() =>
        {
            Assert.That(gw2.Lease.Role, Is.EqualTo(GatewayRole.Owner));
            Assert.That(gw2.Lease.FencedPeers, Is.EqualTo(1));
            Assert.That(_cluster.Blocklist, Is.EquivalentTo(new[] { "127.0.0.1:0/gw1-image", "127.0.0.1:0/gw1-lease" }));
            Assert.That(_cluster.Operations, Is.EqualTo(new[]
            {
                "lock gw1", "owner gw1", "expired gw1", "fence 127.0.0.1:0/gw1-image 127.0.0.1:0/gw1-lease", "lock gw2", "owner gw2",
            }), "fence, then lock, then record, then serve");
        });

        // gw1 comes back: its hanging renewal is answered as a blocklisted client's: fenced for good.
        hang.Set();
        Assert.That(renewal.Wait(TimeSpan.FromSeconds(30)), Is.True);
        Assert.Multiple(() =>
        {
            Assert.That(gw1.Lease.Role, Is.EqualTo(GatewayRole.Fenced));
            Assert.That(gw1.Roles, Is.EqualTo(new[] { GatewayRole.Owner, GatewayRole.Uncertain, GatewayRole.Fenced }));
        });
        gw1.Lease.Step();
        Assert.That(gw1.Lease.Role, Is.EqualTo(GatewayRole.Fenced), "a fenced gateway never serves again without a restart");
    }

    [Test]
    public void RenewalsFailingThenAnsweredAgain_UncertainThenOwnerAgain_NobodyFenced()
    {
        var gw1 = Start("gw1");
        gw1.Lease.Step();
        gw1.Store.Unreachable = true;
        for (int i = 0; i < 4; i++)
        {
            _time.Advance(Duration / 3);
            gw1.Lease.Step();
        }

        Assert.That(gw1.Lease.Role, Is.EqualTo(GatewayRole.Uncertain), "4 polls = 20 s > 12 s without a confirmed renewal");
        gw1.Store.Unreachable = false;
        _time.Advance(TimeSpan.FromSeconds(1));
        gw1.Lease.Step();
        Assert.Multiple(() =>
        {
            Assert.That(gw1.Lease.Role, Is.EqualTo(GatewayRole.Standby), "the lock expired meanwhile: MUST_RENEW says not held");
            Assert.That(gw1.Roles, Is.EqualTo(new[] { GatewayRole.Owner, GatewayRole.Uncertain, GatewayRole.Standby }));
        });

        // Free and gw1 is the preferred owner: it takes it again; its own earlier lease is not fenced.
        gw1.Lease.Step();
        Assert.Multiple(() =>
        {
            Assert.That(gw1.Lease.Role, Is.EqualTo(GatewayRole.Owner));
            Assert.That(_cluster.Blocklist, Is.Empty);
        });
    }

    [Test]
    public void ShortOutage_RenewalConfirmedBeforeExpiry_OwnerAgainWithoutLosingTheLock()
    {
        var gw1 = Start("gw1");
        gw1.Lease.Step();
        gw1.Store.Unreachable = true;
        _time.Advance(Duration / 3);
        gw1.Lease.Step();
        _time.Advance(Duration / 3);
        gw1.Lease.Step();
        _time.Advance(Duration / 3 - Margin);
        Assert.That(gw1.Lease.Role, Is.EqualTo(GatewayRole.Uncertain));
        gw1.Store.Unreachable = false;
        _time.Advance(TimeSpan.FromSeconds(1));
        gw1.Lease.Step();
        Assert.That(gw1.Roles, Is.EqualTo(new[] { GatewayRole.Owner, GatewayRole.Uncertain, GatewayRole.Owner }));
    }

    [Test]
    public void PlannedMove_NamedGatewayTakesOverWithoutFencing_AThirdWaits()
    {
        var gw1 = Start("gw1");
        var gw2 = Start("gw2");
        var gw3 = Start("gw3", preferred: "gw3");
        gw1.Lease.Step();
        gw2.Lease.Step();
        gw3.Lease.Step();

        Assert.That(gw1.Lease.Release("gw2", out var detail), Is.True, detail);
        Assert.That(gw1.Lease.Role, Is.EqualTo(GatewayRole.Standby));
        gw3.Lease.Step();
        Assert.That(gw3.Lease.Role, Is.EqualTo(GatewayRole.Standby), "handed to gw2: the others leave it");
        gw2.Lease.Step();
        Assert.Multiple(() =>
        {
            Assert.That(gw2.Lease.Role, Is.EqualTo(GatewayRole.Owner));
            Assert.That(_cluster.Blocklist, Is.Empty, "a planned release is not fenced");
            Assert.That(_cluster.Operations, Is.EqualTo(new[] { "lock gw1", "owner gw1", "released gw1>gw2", "unlock gw1", "lock gw2", "owner gw2" }));
        });

        // And back.
        Assert.That(gw2.Lease.Release("gw1", out detail), Is.True, detail);
        Assert.That(gw1.Lease.Release("gw2", out detail), Is.False, "gw1 is not the owner");
        Assert.That(detail, Does.Contain("not owned by gw1"));
        gw1.Lease.Step();
        Assert.Multiple(() =>
        {
            Assert.That(gw1.Lease.Role, Is.EqualTo(GatewayRole.Owner));
            Assert.That(_cluster.Blocklist, Is.Empty);
        });
    }

    [Test]
    public void HandedToAGatewayThatNeverComes_OthersTakeItAfterTwoDurations_AndFenceNobody()
    {
        var gw1 = Start("gw1");
        var gw2 = Start("gw2");
        gw1.Lease.Step();
        Assert.That(gw1.Lease.Release("gw9", out _), Is.True);
        gw2.Lease.Step();
        _time.Advance(Duration);
        gw2.Lease.Step();
        Assert.That(gw2.Lease.Role, Is.EqualTo(GatewayRole.Standby));
        _time.Advance(Duration);
        gw2.Lease.Step();
        Assert.Multiple(() =>
        {
            Assert.That(gw2.Lease.Role, Is.EqualTo(GatewayRole.Owner));
            Assert.That(_cluster.Blocklist, Is.Empty);
        });
    }

    [Test]
    public void SafetyMarginNotShorterThanTheDuration_IsRefused()
    {
        var settings = new GatewayLeaseSettings { Gateway = "gw1", Duration = TimeSpan.FromSeconds(5), SafetyMargin = TimeSpan.FromSeconds(5) };
        Assert.Throws<ArgumentOutOfRangeException>(() => new GatewayGroupLease(1, settings, _cluster.Connect("a"), () => [], (_, _) => { }, _time, NullLogger.Instance).Dispose());
    }

    [Test]
    public void Cookie_RoundTripsAndClientAddressesParse()
    {
        var cookie = GatewayCookie.Create("gw1", ["127.0.0.1:0/1", "127.0.0.1:0/2", "127.0.0.1:0/1"]);
        var back = GatewayCookie.TryParse(cookie.ToString())!;
        Assert.Multiple(() =>
        {
            Assert.That(back.Name, Is.EqualTo("gw1"));
            Assert.That(back.Nonce, Is.EqualTo(cookie.Nonce));
            Assert.That(back.Addresses, Is.EqualTo(new[] { "127.0.0.1:0/1", "127.0.0.1:0/2" }));
            Assert.That(GatewayCookie.TryParse("no-separators"), Is.Null);
            Assert.That(GatewayCookie.ParseClientAddresses("[v2:127.0.0.1:0/3797,v1:127.0.0.1:0/3797]").Distinct(), Is.EqualTo(new[] { "127.0.0.1:0/3797" }));
        });
    }
}
