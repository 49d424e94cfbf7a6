using NvmeMptls.Target.Configuration;

namespace NvmeMptls.Tests.Target.Gateway;

/// <summary>Each gateway of a group hands out its own controller ids, so a host never sees two controllers with one CNTLID.</summary>
public sealed class GatewayControllerIdTests
{
    private static GatewayOptions Group(int members, string name) => new()
    {
        Group = "g",
        Name = name,
        Pool = "rbd",
        Members = [.. Enumerable.Range(1, members).Select(i => new GatewayMemberOptions { Name = $"gw{i}" })],
    };

    [TestCase(2, "gw1", 1, 4096)]
    [TestCase(2, "gw2", 4097, 8192)]
    [TestCase(16, "gw15", 57345, 61440)]
    [TestCase(16, "gw16", 61441, 0xFFEF)]
    [TestCase(2, "gw9", 1, 0xFFEF)]
    public void MemberPosition_PicksADisjointRange(int members, string name, int min, int max)
    {
        Assert.That(Group(members, name).ControllerIdRange, Is.EqualTo(((ushort)min, (ushort)max)));
    }

    [Test]
    public void EveryMembersRange_IsDisjointFromTheOthers()
    {
        var ranges = Enumerable.Range(1, GatewayOptions.MaxMembers).Select(i => Group(GatewayOptions.MaxMembers, $"gw{i}").ControllerIdRange).ToList();
        for (var a = 0; a < ranges.Count; a++)
        {
            Assert.That(ranges[a].Min, Is.LessThanOrEqualTo(ranges[a].Max));
            for (var b = a + 1; b < ranges.Count; b++)
            {
                Assert.That(ranges[a].Max < ranges[b].Min || ranges[b].Max < ranges[a].Min, Is.True, $"{ranges[a]} and {ranges[b]} overlap");
            }
        }
    }

    [Test]
    public void BuiltLimits_CarryTheGatewaysRange()
    {
        var limits = NvmeMptls.Target.Hosting.TargetBuilder.ToLimits(new TargetOptions { Gateway = Group(3, "gw3") });
        Assert.That((limits.ControllerIdMin, limits.ControllerIdMax), Is.EqualTo(((ushort)8193, (ushort)12288)));
        var plain = NvmeMptls.Target.Hosting.TargetBuilder.ToLimits(new TargetOptions());
        Assert.That((plain.ControllerIdMin, plain.ControllerIdMax), Is.EqualTo(((ushort)1, (ushort)0xFFEF)));
    }
}
