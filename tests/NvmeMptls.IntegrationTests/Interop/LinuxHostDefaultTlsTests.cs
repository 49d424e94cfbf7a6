using NvmeMptls.Crypto.Psk;
using NvmeMptls.IntegrationTests.Service;
using NvmeMptls.IntegrationTests.TestKit;

namespace NvmeMptls.IntegrationTests.Interop;

/// <summary>
/// The Linux host's everyday TLS flow against our target: the harness's own <c>host --tls</c> mode inserts the key
/// with the guest's nvme-cli (<c>check-tls-key -i</c>: version-0 identities) and runs <c>nvme discover --tls</c>,
/// <c>nvme connect --tls</c> and a verified O_DIRECT write/read. Once per guest:
/// <list type="bullet">
/// <item>trixie (nvme-cli 2.13, tlshd 1.0, GnuTLS 3.8.9), SHA-256 key: nvme-cli 2.13 derives the v0 TLS PSK in
/// libnvme's compat form.</item>
/// <item>forky (nvme-cli 2.16, tlshd 1.4, GnuTLS 3.8.13), SHA-384 key: RFC 8446 form; the handshake is
/// TLS_AES_256_GCM_SHA384.</item>
/// </list>
/// The target runs with no <c>--tls-v0-form</c>: it tells the forms apart by the ClientHello's PSK binder, and the
/// handshake metric counts each success under the form that verified.
/// </summary>
[TestFixture]
[NonParallelizable]
[Category("Interop")]
public sealed class LinuxHostDefaultTlsTests
{
    private const string Nqn = "nqn.2026-01.io.nvmemptls:default";
    private const string HostNqn = "nqn.2014-08.org.nvmexpress:uuid:5ca1ab1e-0000-4000-8000-00000000d00d";

    [TestCase("trixie", NvmePskHash.Sha256, "compat", "TLS_AES_128_GCM_SHA256")]
    [TestCase("forky", NvmePskHash.Sha384, "rfc", "TLS_AES_256_GCM_SHA384")]
    public async Task NvmeCliInsertedKey_V0Identity_ConnectsAndVerifiesIo(string suite, NvmePskHash hash, string v0Form, string cipherSuite)
    {
        LinuxVm.IgnoreUnlessAvailable();
        using var psk = ConfiguredPsk.Generate(hash);
        var key = psk.ToInterchange();
        var metricsUrl = new Uri($"http://127.0.0.1:{TargetRunner.FreePort()}/metrics");
        using var target = await TargetRunner.StartAsync("--nqn", Nqn, "--memory-ns", "64MiB", "--tls", "required", "--tls-key", key,
            "--metrics", metricsUrl.ToString());
        string[] arguments = ["--suite", suite, "host", "--port", target.Port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--nqn", Nqn,
            "--tls", "--tls-key", key, "--hostnqn", HostNqn, "--io-mb", "8", "--timeout", "280"];
        var run = await LinuxVm.BootOnceMoreAfterEarlyCrashAsync(
            () => ToolRunner.RunAsync(LinuxVm.Harness(), arguments, TimeSpan.FromSeconds(320)), r => (r.Stdout + r.Stderr).Split('\n'));
        var (exitCode, text) = (run.ExitCode, run.Stdout + run.Stderr);

        TestContext.Out.WriteLine(text.Length > 6000 ? text[^6000..] : text);
        var metrics = await MetricsScrape.FetchAsync(metricsUrl);
        string otherForm = v0Form == "compat" ? "rfc" : "compat";
        Assert.Multiple(() =>
        {
            Assert.That(exitCode, Is.Zero, "the guest's discover/connect/verify failed");
            Assert.That(text, Does.Contain("VERIFY OK"));
            Assert.That(target.Log, Does.Contain($"{cipherSuite} group"), "the negotiated cipher suite");
            Assert.That(target.Log, Does.Contain($"identity 'NVMe0R0{(int)hash} {HostNqn} {Nqn}'"), "the kernel host offered a v0 identity");
            Assert.That(target.Log, Does.Contain($"TLS PSK form v0-{v0Form} verified by the binder"), "the binder picked the form");
            Assert.That(metrics.Sum("nvmemptls_tls_handshakes_total", "outcome=success", $"form=v0-{v0Form}"), Is.GreaterThanOrEqualTo(2),
                "discover and connect (admin and I/O queues) counted under the form that verified");
            Assert.That(metrics.Sum("nvmemptls_tls_handshakes_total", $"form=v0-{otherForm}"), Is.Zero);
            Assert.That(metrics.Sum("nvmemptls_tls_handshakes_total", "outcome=failure"), Is.Zero, "no refused handshake");
        });
    }
}
