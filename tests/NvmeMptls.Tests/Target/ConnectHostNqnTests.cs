using NvmeMptls.TestKit;
using NvmeMptls.Transport.Nvme;

namespace NvmeMptls.Tests.Target;

/// <summary>
/// Connect's HOSTNQN follows the NQN rule the TLS identities follow: never empty. The Connect handler in
/// Commands/FabricsCommands.cs validates it (issue 15: an empty host NQN was accepted and logged as "for host ").
/// </summary>
public sealed class ConnectHostNqnTests
{
    [Test]
    public async Task Connect_EmptyHostNqn_ReturnsInvalidParametersPointingAtHostNqn()
    {
        await using var target = new InMemoryTarget();
        var host = target.Connect();
        await host.InitializeAsync();
        var r = await host.ConnectAsync(InMemoryTarget.SubsystemNqn, 0, 31, hostNqn: "");

        // Reference §2.3: Connect Invalid Parameters, IATTR 1 (offset into the Connect data) and IPO 512 (HOSTNQN),
        // as Connect_UnknownSubsystem gets for SUBNQN.
        Assert.That(r.Status, Is.EqualTo(NvmeStatus.Make(1, 0x82, dnr: true)));
        Assert.That(r.Dw0, Is.EqualTo(ConnectResponse.InvalidHostNqn));
        Assert.That(new ConnectResponse(r.Dw0).InvalidParameterName, Is.EqualTo("HOSTNQN"));
    }
}
