using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using NvmeMptls.IntegrationTests.Loopback;
using NvmeMptls.IntegrationTests.Service;

namespace NvmeMptls.IntegrationTests.Rbd;

/// <summary>
/// Our initiator's failover across a gateway group as a user runs it: `nvme-mptls bench --verify=crc32c` as its own
/// process with a controller on each gateway (`--controller`), a verifying random read/write load through the
/// ANA-aware multipath namespace, and the owning gateway killed with SIGKILL in the middle. The other gateway takes
/// the lease over once it expires, fences the old owner and turns optimized; the bench must end with zero I/O and
/// zero verify errors. Prints kill → I/O on gw2 in ms.
/// </summary>
[TestFixture]
[NonParallelizable]
public sealed class GatewayBenchFailoverTests
{
    [Test]
    public async Task BenchVerify_OverBothGateways_OwnerKilled_EndsWithoutErrors()
    {
        var cluster = RbdClusterFixture.Require();
        if (!File.Exists(AllocationPerIoTests.Cli))
        {
            Assert.Ignore($"{AllocationPerIoTests.Cli} is missing: build the solution in Release first");
        }

        await using var kit = GatewayGroupKit.Create(cluster, $"gwbench{Environment.ProcessId.ToString(CultureInfo.InvariantCulture)}");
        await kit.StartAsync("gw1");
        await kit.WaitRoleAsync("gw1", "owner");
        await kit.StartAsync("gw2");
        await kit.WaitRoleAsync("gw2", "standby");

        var log = new StringBuilder();
        using var bench = BenchAnaFailoverTests.Start(AllocationPerIoTests.Cli, [
            "bench", "-a", "127.0.0.1", "-s", kit.Ports["gw1"].ToString(CultureInfo.InvariantCulture), "--controller", $"127.0.0.1:{kit.Ports["gw2"]}",
            "-n", GatewayGroupKit.Nqn, "--multipath", "disabled", "--reconnect-delay", "1", "-v",
            "--name=gwfail", "--rw=randrw", "--bs=4k", "--iodepth=8", "--size=16m", "--time_based", "--runtime=25",
            "--verify=crc32c", "--output-format=json"], log);
        var stdout = bench.StandardOutput.ReadToEndAsync();
        await BenchAnaFailoverTests.Until(() => BenchAnaFailoverTests.Logged(log, $"bench: path 127.0.0.1:{kit.Ports["gw2"]}"), "bench connected to both gateways", bench, log);
        await Task.Delay(TimeSpan.FromSeconds(4));

        var clock = Stopwatch.StartNew();
        using (var gw1 = Process.GetProcessById(kit.Process("gw1").Id))
        {
            gw1.Kill(); // SIGKILL
        }

        await BenchAnaFailoverTests.Until(() => BenchAnaFailoverTests.Logged(log, $"I/O now goes to 127.0.0.1:{kit.Ports["gw2"]}"), "bench moving to gw2", bench, log);
        var movedMs = clock.ElapsedMilliseconds;
        await bench.WaitForExitAsync().WaitAsync(TimeSpan.FromMinutes(2));
        var output = await stdout;
        TestContext.Progress.WriteLine($"bench --verify over both gateways: SIGKILL of the owner -> bench's I/O on gw2 after {movedMs} ms (lease {GatewayGroupKit.Lease.TotalSeconds} s)");
        Assert.That(bench.ExitCode, Is.EqualTo(0), "bench counted I/O or verify errors (exit 1) or could not run (2):\n" + BenchAnaFailoverTests.Snapshot(log));
        using var json = JsonDocument.Parse(output);
        var job = json.RootElement.GetProperty("jobs")[0];
        TestContext.Progress.WriteLine($"  {job.GetProperty("read").GetProperty("total_ios").GetInt64()} reads, {job.GetProperty("write").GetProperty("total_ios").GetInt64()} writes, errors {job.GetProperty("total_err").GetInt64()}");
        Assert.That(job.GetProperty("total_err").GetInt64(), Is.Zero);
        Assert.That(kit.Process("gw2").StandardOutput, Does.Contain("fenced the previous owner gw1"), "gw2 fenced the killed owner before serving");
    }
}
