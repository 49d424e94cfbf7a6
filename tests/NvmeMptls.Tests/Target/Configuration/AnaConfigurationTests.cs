using System.Collections.Immutable;
using Microsoft.Extensions.Logging.Abstractions;
using NvmeMptls.Target.Configuration;
using NvmeMptls.Target.Hosting;
using NvmeMptls.Transport.Nvme;
using static NvmeMptls.Tests.Target.Configuration.ConfigurationTestKit;

namespace NvmeMptls.Tests.Target.Configuration;

/// <summary>Target:Ana, Ports[]:AnaStates and Namespaces[]:AnaGroup: read, validated with the key named, applied to the engine.</summary>
public sealed class AnaConfigurationTests
{
    private const string Ns0 = "Target:Subsystems:0:Namespaces:0";
    private const string Port0 = "Target:Ports:0";

    private static readonly (string, string?)[] s_base =
    [
        ("Target:Subsystems:0:Nqn", "nqn.2026-01.io.example:a"),
        ($"{Ns0}:Size", "1MiB"),
        ($"{Port0}:Port", "4420"),
    ];

    [Test]
    public void AnaKeys_AreRead()
    {
        TargetOptions options = Load([.. s_base,
            ($"{Ns0}:AnaGroup", "3"),
            ($"{Port0}:AnaStates:3", "inaccessible"),
            ($"{Port0}:AnaStates:1", "Non-Optimized"),
            ("Target:Ana:TransitionTimeSeconds", "30")]);
        Assert.Multiple(() =>
        {
            Assert.That(options.Subsystems[0].Namespaces[0].AnaGroup, Is.EqualTo(3u));
            Assert.That(options.Ports[0].AnaStates.States, Is.EqualTo(new Dictionary<uint, AnaState> { [1] = AnaState.NonOptimized, [3] = AnaState.Inaccessible }));
            Assert.That(options.Ana.TransitionTimeSeconds, Is.EqualTo(30));
        });
    }

    [Test]
    public void Defaults_GroupOneAndNoStates()
    {
        TargetOptions options = Load(s_base);
        Assert.Multiple(() =>
        {
            Assert.That(options.Subsystems[0].Namespaces[0].AnaGroup, Is.EqualTo(1u));
            Assert.That(options.Ports[0].AnaStates, Is.EqualTo(AnaStateMap.Empty));
            Assert.That(options.Ana.TransitionTimeSeconds, Is.EqualTo(10));
        });
    }

    [Test]
    public void BadAnaValues_AreAllReportedWithTheirKeys()
    {
        ImmutableArray<string> errors = Errors([.. s_base,
            ($"{Ns0}:AnaGroup", "129"),
            ($"{Port0}:AnaStates:2", "standby"),
            ($"{Port0}:AnaStates:zero", "optimized"),
            ($"{Port0}:AnaStates:0", "optimized"),
            ("Target:Ana:TransitionTimeSeconds", "0")]);
        Assert.That(errors, Does.Contain($"{Ns0}:AnaGroup: must be an ANA group id from 1 to 128 (was 129)"));
        Assert.That(errors, Does.Contain($"{Port0}:AnaStates:2: must be one of optimized, non-optimized, inaccessible, persistent-loss, change (was 'standby')"));
        Assert.That(errors, Does.Contain($"{Port0}:AnaStates:zero: the key must be an ANA group id from 1 to 128 (was 'zero')"));
        Assert.That(errors, Does.Contain($"{Port0}:AnaStates:0: the key must be an ANA group id from 1 to 128"));
        Assert.That(errors, Does.Contain("Target:Ana:TransitionTimeSeconds: must be from 1 to 255 seconds (was 0)"));
    }

    [Test]
    public void SameStatesReadTwice_AreEqual_SoAReloadLeavesThePortAlone()
    {
        TargetOptions a = Load([.. s_base, ($"{Port0}:AnaStates:2", "inaccessible")]);
        TargetOptions b = Load([.. s_base, ($"{Port0}:AnaStates:2", "inaccessible")]);
        TargetOptions c = Load([.. s_base, ($"{Port0}:AnaStates:2", "optimized")]);
        Assert.That(a.Ports[0], Is.EqualTo(b.Ports[0]));
        Assert.That(a.Ports[0], Is.Not.EqualTo(c.Ports[0]));
        Assert.That(a.Ports[0] with { AnaStates = c.Ports[0].AnaStates }, Is.EqualTo(c.Ports[0]));
    }

    [Test]
    public void BuildRegistry_AppliesGroupsStatesAndTransitionTime()
    {
        TargetOptions options = Load([.. s_base,
            ($"{Ns0}:AnaGroup", "2"),
            ($"{Port0}:Id", "7"),
            ($"{Port0}:AnaStates:2", "persistent-loss"),
            ("Target:Ana:TransitionTimeSeconds", "20")]);
        var registry = TargetBuilder.BuildRegistry(options, NullLoggerFactory.Instance);
        var ns = registry.Find("nqn.2026-01.io.example:a")!.FindNamespace(1)!;
        Assert.Multiple(() =>
        {
            Assert.That(ns.AnaGroupId, Is.EqualTo(2u));
            Assert.That(registry.Ana.StateOf(7, 2), Is.EqualTo(AnaState.PersistentLoss));
            Assert.That(registry.Ana.StateOf(7, 1), Is.EqualTo(AnaState.Optimized));
            Assert.That(registry.Ana.TransitionTimeSeconds, Is.EqualTo(20));
        });
    }

    [Test]
    public void ReservationStateFile_InAMissingDirectory_IsReportedWithItsKey()
    {
        ImmutableArray<string> errors = Errors([.. s_base, ($"{Ns0}:ReservationStateFile", "/nonexistent-dir-nvmemptls/pr.state")]);
        Assert.That(errors, Does.Contain($"{Ns0}:ReservationStateFile: the directory of '/nonexistent-dir-nvmemptls/pr.state' does not exist"));
    }

    [Test]
    public void ReservationStateFile_GivesTheNamespaceAPersistentStore()
    {
        var path = Path.Combine(Path.GetTempPath(), $"nvmemptls-pr-{Guid.NewGuid():N}");
        TargetOptions options = Load([.. s_base, ($"{Ns0}:ReservationStateFile", path)]);
        var registry = TargetBuilder.BuildRegistry(options, NullLoggerFactory.Instance);
        var ns = registry.Find("nqn.2026-01.io.example:a")!.FindNamespace(1)!;
        Assert.That(ns.Reservations.PersistenceSupported, Is.True);
        Assert.That(ns.Reservations.TrySetPersistThroughPowerLoss(true), Is.True);
        Assert.That(File.Exists(path), Is.True);
        File.Delete(path);
    }
}
