using NvmeMptls.Crypto.Psk;
using NvmeMptls.Initiator;
using NvmeMptls.IntegrationTests.TestKit;

namespace NvmeMptls.IntegrationTests.Tls;

/// <summary>
/// The real target (child process) with a TLS key and no form setting (issue 13): version-0 identities in both
/// derivation forms connect, the binder decides; a refused handshake is logged with the identity offered, the forms
/// tried and the reason, and never the key; --tls-v0-form pins one form.
/// </summary>
[TestFixture]
[NonParallelizable]
public sealed class TlsV0FormTests
{
    private const string Nqn = "nqn.2026-01.io.nvmemptls:default";
    private const string HostNqn = "nqn.2014-08.org.nvmexpress:uuid:00000000-7e57-4000-8000-0000000f0e16";

    [Test]
    public async Task NoFormSetting_BothV0FormsConnect_AndAWrongKeyIsLoggedWithIdentityAndFormsTried()
    {
        using var psk = ConfiguredPsk.Generate(NvmePskHash.Sha256);
        using var target = await TargetRunner.StartAsync("--nqn", Nqn, "--memory-ns", "16MiB", "--tls", "required", "--tls-key", psk.ToInterchange());
        foreach (bool compat in new[] { false, true })
        {
            await using var controller = await NvmeController.ConnectAsync(Options(target, psk.ToInterchange(), compat));
            Assert.That(controller.State, Is.EqualTo(NvmeControllerState.Live));
        }

        using var wrong = ConfiguredPsk.Generate(NvmePskHash.Sha256);
        Assert.ThrowsAsync(Is.InstanceOf<IOException>(), async () => await NvmeController.ConnectAsync(Options(target, wrong.ToInterchange(), compat: true)));
        await WaitForAsync(target, "refused (PskMismatch)");
        // The runner's own first line echoes the command line (with --tls-key); the target's output follows.
        string log = string.Join('\n', target.Log.Split('\n').Where(l => !l.StartsWith("---- test:", StringComparison.Ordinal)));
        Assert.Multiple(() =>
        {
            Assert.That(log, Does.Contain("TLS PSK form v0-rfc verified by the binder"));
            Assert.That(log, Does.Contain("TLS PSK form v0-compat verified by the binder"));
            Assert.That(log, Does.Contain($"refused (PskMismatch); identity offered 'NVMe0R01 {HostNqn} {Nqn}', PSK forms tried: v0-rfc, v0-compat"));
            Assert.That(log, Does.Not.Contain(wrong.ToInterchange()).And.Not.Contain(psk.ToInterchange()));
        });
    }

    [Test]
    public async Task FormPinnedToRfc_CompatClientIsRefused_AndTheLogNamesTheOneFormTried()
    {
        using var psk = ConfiguredPsk.Generate(NvmePskHash.Sha256);
        using var target = await TargetRunner.StartAsync("--nqn", Nqn, "--memory-ns", "16MiB", "--tls", "required", "--tls-key", psk.ToInterchange(),
            "--tls-v0-form", "rfc");
        Assert.ThrowsAsync(Is.InstanceOf<IOException>(), async () => await NvmeController.ConnectAsync(Options(target, psk.ToInterchange(), compat: true)));
        await WaitForAsync(target, "refused (PskMismatch)");
        Assert.That(target.Log, Does.Contain($"identity offered 'NVMe0R01 {HostNqn} {Nqn}', PSK forms tried: v0-rfc:"));
    }

    private static NvmeControllerOptions Options(TargetRunner target, string key, bool compat) => NvmeControllerOptions.Default with
    {
        TargetPort = target.Port,
        SubsystemNqn = Nqn,
        HostNqn = HostNqn,
        IoQueueCount = 1,
        Tls = true,
        TlsKey = key,
        TlsIdentityVersion = 0,
        TlsCompat = compat,
        ControllerLossTimeout = TimeSpan.Zero,
    };

    private static async Task WaitForAsync(TargetRunner target, string text)
    {
        for (int i = 0; i < 200 && !target.Log.Contains(text, StringComparison.Ordinal); i++)
        {
            await Task.Delay(50);
        }
    }
}
