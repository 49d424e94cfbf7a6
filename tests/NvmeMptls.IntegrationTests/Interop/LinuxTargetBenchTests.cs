using System.Globalization;
using System.Text.Json;
using NvmeMptls.Cli;

namespace NvmeMptls.IntegrationTests.Interop;

/// <summary>
/// <c>nvme-mptls bench</c> with crc32c verification against the Linux kernel's nvmet-tcp (the same qemu guest as
/// <see cref="LinuxTargetTests"/>): an independent target must see our writes exactly as the verify phase expects.
/// The guest is emulated, so the figures printed say nothing about speed.
/// </summary>
[TestFixture]
[NonParallelizable]
[Category("Interop")]
public sealed class LinuxTargetBenchTests
{
    private LinuxTargetVm? _vm;

    [OneTimeSetUp]
    public async Task BootTarget() =>
        _vm = await LinuxTargetVm.BootOrIgnoreAsync(() => LinuxTargetVm.StartAsync(TimeSpan.FromSeconds(180)));

    [OneTimeTearDown]
    public async Task StopTarget()
    {
        if (_vm is not null)
        {
            await _vm.DisposeAsync();
        }
    }

    [Test]
    public async Task Bench_RandRw4kQd16WithCrc32cVerify_AgainstKernelTarget_ZeroErrors()
    {
        var vm = _vm ?? throw new InvalidOperationException("VM not started");
        var output = new StringWriter();
        var error = new StringWriter();
        string[] args =
        [
            "bench", "-a", "127.0.0.1", "-s", vm.Port.ToString(CultureInfo.InvariantCulture), "-n", LinuxTargetVm.SubsystemNqn,
            "--connect-timeout", "20", "--name=kernel-randrw", "--rw=randrw", "--bs=4k", "--iodepth=16", "--size=16m",
            "--runtime=4", "--time_based", "--verify=crc32c", "--output-format=json",
        ];
        using var cts = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        var rc = await Program.RunAsync(args, output, error, Stream.Null, Stream.Null, cts.Token);
        Assert.That(rc, Is.Zero, $"exit {rc}\n{output}\n{error}\nguest console:\n{vm.ConsoleTail}");

        var text = output.ToString();
        using var json = JsonDocument.Parse(text[text.IndexOf('{', StringComparison.Ordinal)..]);
        var job = json.RootElement.GetProperty("jobs")[0];
        var read = job.GetProperty("read");
        var write = job.GetProperty("write");
        Assert.Multiple(() =>
        {
            Assert.That(job.GetProperty("error").GetInt32(), Is.Zero);
            Assert.That(read.GetProperty("total_ios").GetInt64(), Is.GreaterThan(0));
            Assert.That(write.GetProperty("total_ios").GetInt64(), Is.GreaterThan(0));
        });
        TestContext.Out.WriteLine($"nvme-mptls {string.Join(' ', args)}");
        TestContext.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"kernel target (emulated guest): read {read.GetProperty("iops").GetDouble():F0} IOPS, write {write.GetProperty("iops").GetDouble():F0} IOPS, error 0"));
    }
}
