using NvmeMptls.Target.Namespaces;
using NvmeMptls.Target.Subsystems;
using NvmeMptls.TestKit;
using NvmeMptls.Transport.Nvme;

namespace NvmeMptls.Tests.Target.Controllers;

/// <summary>
/// ANA on the target: two ports of one target, each with its own state per group; Identify, log page 0Ch, the I/O
/// statuses of a path that must not serve, and the ANA Change notice to the controllers of the changed port only.
/// </summary>
public sealed class AnaTests
{
    private static readonly TargetPortInfo Port2 = new(2, "127.0.0.2", 4420, PortTlsMode.None);
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(20);

    /// <summary>Namespace 1 in group 1 (default), namespace 2 in group 2, namespace 3 in group 2.</summary>
    private static InMemoryTarget TwoGroups()
    {
        var target = new InMemoryTarget();
        target.Subsystem.AddNamespace(new TargetNamespace(2, new MemoryBlockDevice(1 << 20, 512), Guid.NewGuid(), Guid.NewGuid(), readOnly: false, anaGroupId: 2));
        target.Subsystem.AddNamespace(new TargetNamespace(3, new MemoryBlockDevice(1 << 20, 512), Guid.NewGuid(), Guid.NewGuid(), readOnly: false, anaGroupId: 2));
        target.Registry.AddPort(Port2);
        return target;
    }

    private static async Task<(RawNvmeHost Admin, RawNvmeHost Io)> ConnectAsync(InMemoryTarget target, TargetPortInfo port)
    {
        var admin = target.Connect(port);
        await admin.BringUpAdminAsync(InMemoryTarget.SubsystemNqn);
        Assert.That((await admin.SetFeatureAsync(FeatureIds.NumberOfQueues, 0x00010001)).Status.IsSuccess, Is.True);
        var io = target.Connect(port);
        await io.InitializeAsync();
        var c = await io.ConnectAsync(InMemoryTarget.SubsystemNqn, 1, 31, admin.ControllerId);
        Assert.That(c.Status.IsSuccess, Is.True, c.Status.ToString());
        return (admin, io);
    }

    private static async Task<AnaLogPage> ReadAnaLogAsync(RawNvmeHost admin, bool retainAsyncEvent = false, bool groupsOnly = false)
    {
        var length = AnaLogPage.MaxSize(AnaGroups.MaxGroupId, 1024);
        var cmd = new GetLogPageCommand(LogPageIds.AsymmetricNamespaceAccess, 0xFFFFFFFF, 0, (ulong)length, retainAsyncEvent, groupsOnly ? AnaLogPage.LspReturnGroupsOnly : (byte)0).ToCommand();
        var buffer = new byte[length];
        var r = await admin.ExecuteAsync(admin.Command(cmd.Opcode, cmd.Nsid, cmd.Cdw10, cmd.Cdw11, cmd.Cdw12, (uint)length), default, buffer);
        Assert.That(r.Status.IsSuccess, Is.True, r.Status.ToString());
        Assert.That(AnaLogPage.TryRead(buffer, AnaGroups.MaxGroupId, out var page, out var error), Is.True, error);
        return page!;
    }

    private static AnaState StateOf(AnaLogPage page, uint group) => page.Groups.Single(g => g.GroupId == group).State;

    [Test]
    public async Task IdentifyController_ReportsAnaLikeNvmet_AndIdentifyNamespaceItsGroup()
    {
        await using var target = TwoGroups();
        var (admin, _) = await ConnectAsync(target, target.Port);
        var page = new byte[4096];
        Assert.That((await admin.ExecuteAsync(admin.Command(AdminOpcodes.Identify, cdw10: IdentifyCns.Controller, length: 4096), default, page)).Status.IsSuccess, Is.True);
        var id = IdentifyController.Read(page);
        var ns = new byte[4096];
        Assert.That((await admin.ExecuteAsync(admin.Command(AdminOpcodes.Identify, 2, cdw10: IdentifyCns.Namespace, length: 4096), default, ns)).Status.IsSuccess, Is.True);
        Assert.Multiple(() =>
        {
            Assert.That(id.Cmic & IdentifyController.CmicAnaReporting, Is.Not.Zero, "CMIC bit 3");
            Assert.That(id.AnaCapabilities, Is.EqualTo(0x1F));
            Assert.That(id.AnaTransitionTime, Is.EqualTo(10));
            Assert.That((id.AnaGroupIdMax, id.AnaGroupCount), Is.EqualTo((128u, 128u)));
            Assert.That(id.Oaes & AsyncEvent.ConfigAnaChange, Is.Not.Zero, "OAES bit 11");
            Assert.That(IdentifyNamespace.Read(ns).AnaGroupId, Is.EqualTo(2u));
        });
    }

    [Test]
    public async Task AnaLog_ListsEachGroupWithItsNamespaces_InThePortsOwnState()
    {
        await using var target = TwoGroups();
        target.Registry.Ana.SetPortStates(1, new Dictionary<uint, AnaState> { [2] = AnaState.Inaccessible });
        target.Registry.Ana.SetPortStates(2, new Dictionary<uint, AnaState> { [1] = AnaState.NonOptimized, [5] = AnaState.Inaccessible });
        var (admin1, _) = await ConnectAsync(target, target.Port);
        var (admin2, _) = await ConnectAsync(target, Port2);

        var log1 = await ReadAnaLogAsync(admin1);
        var log2 = await ReadAnaLogAsync(admin2);
        var groupsOnly = await ReadAnaLogAsync(admin1, groupsOnly: true);
        Assert.Multiple(() =>
        {
            Assert.That(log1.Groups.Select(g => g.GroupId), Is.EqualTo(new uint[] { 1, 2 }), "groups holding namespaces (group 5 is empty)");
            Assert.That(groupsOnly.Groups.Select(g => g.GroupId), Is.EqualTo(new uint[] { 1, 2, 5 }), "RGO: every group, the configured empty one too");
            Assert.That(log1.Groups[0].Nsids, Is.EqualTo(new uint[] { 1 }));
            Assert.That(log1.Groups[1].Nsids, Is.EqualTo(new uint[] { 2, 3 }));
            Assert.That((StateOf(log1, 1), StateOf(log1, 2)), Is.EqualTo((AnaState.Optimized, AnaState.Inaccessible)), "port 1");
            Assert.That((StateOf(log2, 1), StateOf(log2, 2)), Is.EqualTo((AnaState.NonOptimized, AnaState.Optimized)), "port 2");
            Assert.That(log1.ChangeCount, Is.EqualTo(log2.ChangeCount), "one change count for the target");
            Assert.That(groupsOnly.Groups.All(g => g.Nsids.Count == 0), Is.True, "RGO");
        });
    }

    [TestCase(AnaState.Inaccessible, (ushort)0x302)]
    [TestCase(AnaState.PersistentLoss, (ushort)0x301)]
    [TestCase(AnaState.Change, (ushort)0x303)]
    public async Task Io_OnAPathThatMustNotServeTheGroup_GetsItsPathStatusWithoutDnr_OtherPathServes(AnaState state, ushort expected)
    {
        await using var target = TwoGroups();
        target.Registry.Ana.SetState(1, 2, state);
        var (_, io1) = await ConnectAsync(target, target.Port);
        var (_, io2) = await ConnectAsync(target, Port2);

        var write = await io1.WriteAsync(2, 0, new byte[512]);
        var read = await io1.ReadAsync(2, 0, 512);
        var flush = await io1.FlushAsync(2);
        Assert.Multiple(() =>
        {
            Assert.That(write.Status, Is.EqualTo(new NvmeStatus(expected)), "write on port 1");
            Assert.That(read.Status, Is.EqualTo(new NvmeStatus(expected)), "read on port 1");
            Assert.That(flush.Status, Is.EqualTo(new NvmeStatus(expected)), "flush on port 1");
        });
        Assert.That((await io1.ReadAsync(1, 0, 512)).Status.IsSuccess, Is.True, "group 1 is still optimized on port 1");
        var data = new byte[512];
        Random.Shared.NextBytes(data);
        Assert.That((await io2.WriteAsync(2, 0, data)).Status.IsSuccess, Is.True, "port 2 serves group 2");
        Assert.That((await io2.ReadAsync(2, 0, 512)).Data, Is.EqualTo(data));
    }

    [Test]
    public async Task NonOptimizedPath_ServesIo()
    {
        await using var target = TwoGroups();
        target.Registry.Ana.SetState(1, 2, AnaState.NonOptimized);
        var (_, io) = await ConnectAsync(target, target.Port);
        Assert.That((await io.WriteAsync(2, 1, new byte[512])).Status.IsSuccess, Is.True);
    }

    [Test]
    public async Task StateChange_NotifiesControllersOnThatPortOnly_AndRereadingTheLogRearmsTheNotice()
    {
        await using var target = TwoGroups();
        var (admin1, _) = await ConnectAsync(target, target.Port);
        var (admin2, _) = await ConnectAsync(target, Port2);
        foreach (var admin in new[] { admin1, admin2 })
        {
            Assert.That((await admin.SetFeatureAsync(FeatureIds.AsyncEventConfig, AsyncEvent.ConfigAnaChange | AsyncEvent.ConfigNamespaceAttribute)).Status.IsSuccess, Is.True);
        }

        var before = (await ReadAnaLogAsync(admin1)).ChangeCount;
        var aer1 = admin1.AsyncEventRequestAsync();
        var aer2 = admin2.AsyncEventRequestAsync();

        target.Registry.Ana.SetState(1, 2, AnaState.Inaccessible);
        var notice = await aer1.WaitAsync(Wait);
        Assert.That(AsyncEvent.FromDw0(notice.Dw0), Is.EqualTo(AsyncEvent.AnaChange));

        // While the notice is unread (RAE set), a second change on port 1 raises nothing more.
        var retained = await ReadAnaLogAsync(admin1, retainAsyncEvent: true);
        var aer1b = admin1.AsyncEventRequestAsync();
        target.Registry.Ana.SetState(1, 2, AnaState.Change);
        await Task.Delay(200);
        Assert.That(aer1b.IsCompleted, Is.False, "masked until log 0Ch is read without RAE");
        Assert.That(aer2.IsCompleted, Is.False, "port 2 saw no change");

        var read = await ReadAnaLogAsync(admin1);
        Assert.Multiple(() =>
        {
            Assert.That(retained.ChangeCount, Is.GreaterThan(before));
            Assert.That(read.ChangeCount, Is.GreaterThan(retained.ChangeCount));
            Assert.That(StateOf(read, 2), Is.EqualTo(AnaState.Change));
            Assert.That(read.Groups.Single(g => g.GroupId == 2).ChangeCount, Is.EqualTo(read.ChangeCount), "group 2 changed last");
        });

        target.Registry.Ana.SetState(1, 2, AnaState.Optimized);
        Assert.That(AsyncEvent.FromDw0((await aer1b.WaitAsync(Wait)).Dw0), Is.EqualTo(AsyncEvent.AnaChange), "re-armed by the read");

        target.Registry.Ana.SetState(2, 1, AnaState.Inaccessible);
        Assert.That(AsyncEvent.FromDw0((await aer2.WaitAsync(Wait)).Dw0), Is.EqualTo(AsyncEvent.AnaChange), "port 2's own change");
    }

    [Test]
    public async Task UnchangedState_RaisesNoNoticeAndKeepsTheChangeCount()
    {
        await using var target = TwoGroups();
        target.Registry.Ana.SetState(1, 2, AnaState.Inaccessible);
        var (admin, _) = await ConnectAsync(target, target.Port);
        Assert.That((await admin.SetFeatureAsync(FeatureIds.AsyncEventConfig, AsyncEvent.ConfigAnaChange)).Status.IsSuccess, Is.True);
        var count = (await ReadAnaLogAsync(admin)).ChangeCount;
        var aer = admin.AsyncEventRequestAsync();
        target.Registry.Ana.SetPortStates(1, new Dictionary<uint, AnaState> { [2] = AnaState.Inaccessible });
        await Task.Delay(200);
        Assert.That(aer.IsCompleted, Is.False);
        Assert.That((await ReadAnaLogAsync(admin)).ChangeCount, Is.EqualTo(count));
    }

    [Test]
    public async Task NamespaceMovedToAnotherGroup_FollowsThatGroupsState_AndEveryControllerIsNotified()
    {
        await using var target = TwoGroups();
        target.Registry.Ana.SetState(1, 3, AnaState.Inaccessible);
        var (admin, io) = await ConnectAsync(target, target.Port);
        Assert.That((await admin.SetFeatureAsync(FeatureIds.AsyncEventConfig, AsyncEvent.ConfigAnaChange)).Status.IsSuccess, Is.True);
        var aer = admin.AsyncEventRequestAsync();
        Assert.That((await io.WriteAsync(2, 0, new byte[512])).Status.IsSuccess, Is.True);

        Assert.That(target.Subsystem.SetAnaGroup(2, 3), Is.True);
        Assert.That(AsyncEvent.FromDw0((await aer.WaitAsync(Wait)).Dw0), Is.EqualTo(AsyncEvent.AnaChange));
        Assert.That((await io.WriteAsync(2, 0, new byte[512])).Status, Is.EqualTo(new NvmeStatus(NvmeStatusCodes.AnaInaccessible)));
        var log = await ReadAnaLogAsync(admin);
        Assert.That(log.Groups.Single(g => g.GroupId == 3).Nsids, Is.EqualTo(new uint[] { 2 }));
        Assert.That(log.Groups.Single(g => g.GroupId == 2).Nsids, Is.EqualTo(new uint[] { 3 }));
    }

    [Test]
    public async Task IdentifyNamespace_OnAnInaccessiblePath_ReportsNuseZeroButTheSameSize()
    {
        await using var target = TwoGroups();
        target.Registry.Ana.SetState(2, 2, AnaState.Inaccessible);
        var (admin1, _) = await ConnectAsync(target, target.Port);
        var (admin2, _) = await ConnectAsync(target, Port2);
        async Task<IdentifyNamespace> Id(RawNvmeHost admin)
        {
            var page = new byte[4096];
            Assert.That((await admin.ExecuteAsync(admin.Command(AdminOpcodes.Identify, 2, cdw10: IdentifyCns.Namespace, length: 4096), default, page)).Status.IsSuccess, Is.True);
            return IdentifyNamespace.Read(page);
        }

        var optimized = await Id(admin1);
        var inaccessible = await Id(admin2);
        Assert.Multiple(() =>
        {
            Assert.That(inaccessible.BlockCount, Is.EqualTo(optimized.BlockCount));
            Assert.That(inaccessible.Utilization, Is.Zero);
            Assert.That(optimized.Utilization, Is.EqualTo(optimized.BlockCount));
        });
    }

    [Test]
    public void AnaGroups_RefuseGroupIdsOutside1To128()
    {
        var ana = new AnaGroups(_ => { });
        Assert.Throws<ArgumentOutOfRangeException>(() => ana.SetState(1, 0, AnaState.Optimized));
        Assert.Throws<ArgumentOutOfRangeException>(() => ana.SetState(1, 129, AnaState.Optimized));
        Assert.Throws<ArgumentOutOfRangeException>(() => ana.SetPortStates(1, new Dictionary<uint, AnaState> { [200] = AnaState.Optimized }));
        Assert.That(ana.StateOf(9, 5), Is.EqualTo(AnaState.Optimized), "a port never configured serves every group");
    }
}
