using System.Net;
using NvmeMptls.Transport.Multipath;

namespace NvmeMptls.Tests.Multipath;

public sealed class PathManagerStateTests
{
    private const string Endpoints = "198.18.2.1 id 1 subflow dev vi2-t1 \n198.18.3.1 port 4000 id 2 signal backup dev eth3 \n";

    [Test]
    public void Parse_Iproute2Output_EndpointsAndLimits()
    {
        var state = PathManagerState.Parse(true, "kernel", Endpoints, "add_addr_accepted 3 subflows 2 \n");
        Assert.That(state.SubflowsLimit, Is.EqualTo(2));
        Assert.That(state.AddAddrAcceptedLimit, Is.EqualTo(3));
        Assert.That(state.Endpoints, Is.EqualTo(new[]
        {
            new MptcpEndpoint(IPAddress.Parse("198.18.2.1"), 1, null, "vi2-t1", MptcpEndpointFlags.Subflow),
            new MptcpEndpoint(IPAddress.Parse("198.18.3.1"), 2, 4000, "eth3", MptcpEndpointFlags.Signal | MptcpEndpointFlags.Backup),
        }));
    }

    [Test]
    public void Parse_GarbageEndpointLine_Throws()
        => Assert.That(() => PathManagerState.Parse(true, "kernel", "not-an-address id 1", ""), Throws.InstanceOf<FormatException>());

    [Test]
    public void Warnings_EnoughEndpointsAndLimits_None()
        => Assert.That(PathManagerState.Parse(true, "kernel", Endpoints, "subflows 2 add_addr_accepted 2").WarningsFor(2), Is.Empty);

    [Test]
    public void Warnings_MptcpDisabled_NamesTheSysctl()
        => Assert.That(PathManagerState.Parse(false, "kernel", Endpoints, "subflows 8").WarningsFor(2),
            Has.One.Contains("net.mptcp.enabled=0"));

    [Test]
    public void Warnings_LimitTooLow_SaysHowManyPathsAndTheCommand()
        => Assert.That(PathManagerState.Parse(true, "kernel", Endpoints, "subflows 0 add_addr_accepted 0").WarningsFor(2),
            Has.Some.Contains("at most 1 path(s)").And.Some.Contains("ip mptcp limits set subflows 1"));

    [Test]
    public void Warnings_NoSubflowEndpointsAndNoAddAddr_Explains()
        => Assert.That(PathManagerState.Parse(true, "kernel", "", "subflows 2 add_addr_accepted 0").WarningsFor(3),
            Has.Some.Contains("no endpoint has the 'subflow' flag"));

    [Test]
    public void Warnings_UserspacePathManager_Mentioned()
        => Assert.That(PathManagerState.Parse(true, "userspace", Endpoints, "subflows 2 add_addr_accepted 2").WarningsFor(2),
            Has.Some.Contains("userspace"));

    [Test]
    public void Warnings_SinglePathWanted_OnlySysctlMatters()
        => Assert.That(PathManagerState.Parse(true, "kernel", "", "subflows 0 add_addr_accepted 0").WarningsFor(1), Is.Empty);
}
