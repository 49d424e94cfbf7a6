using System.Diagnostics;
using NvmeMptls.Target.Configuration;
using NvmeMptls.TestKit;
using NvmeMptls.Transport.Nvme;
using NvmeMptls.Transport.Sockets;
using NvmeMptls.Transport.Multipath;

namespace NvmeMptls.IntegrationTests.Target;

/// <summary>
/// tshark (an independent NVMe/TCP dissector) reads a capture of a real session — ICReq, Connect, properties,
/// Identify, in-capsule and R2T writes, reads, with and without digests — with zero malformed packets and zero
/// expert errors.
/// </summary>
[NonParallelizable]
public sealed class TsharkDissectionTests
{
    private static string? Tshark => File.Exists("/usr/bin/tshark") ? "/usr/bin/tshark" : null;

    [TestCase(false, false)]
    [TestCase(true, true)]
    public async Task CapturedSession_DissectsAsNvmeTcpWithoutMalformedPacketsOrExpertErrors(bool hd, bool dd)
    {
        if (Tshark is null)
        {
            Assert.Ignore("tshark is not installed (Debian package tshark; ./test.sh installs it)");
        }

        if (Environment.UserName != "root")
        {
            Assert.Ignore("capturing on lo needs root");
        }

        await using var target = LoopbackTarget.Start(multipath: MultipathMode.Disabled);
        var pcap = Path.Combine(Path.GetTempPath(), $"nvmemptls-{Guid.NewGuid():N}.pcapng");
        using var capture = StartCapture(pcap, target.Port);
        try
        {
            await RunSessionAsync(target, hd, dd);
            await Task.Delay(500);
        }
        finally
        {
            StopCapture(capture);
        }

        var nvmeFrames = Count(pcap, target.Port, "nvme-tcp");
        var malformed = Count(pcap, target.Port, "_ws.malformed");
        var errors = Count(pcap, target.Port, "_ws.expert.severity == error");
        TestContext.Out.WriteLine($"tshark: {nvmeFrames} NVMe/TCP frames, {malformed} malformed, {errors} expert errors (digests {hd}/{dd})");
        Assert.Multiple(() =>
        {
            Assert.That(nvmeFrames, Is.GreaterThan(10), "tshark saw the NVMe/TCP session");
            Assert.That(malformed, Is.Zero, "malformed packets");
            Assert.That(errors, Is.Zero, "expert errors");
        });
        File.Delete(pcap);
    }

    private static async Task RunSessionAsync(LoopbackTarget target, bool hd, bool dd)
    {
        await using (var admin = new RawNvmeHost(await StreamConnector.ConnectAsync(target.EndPoint, MultipathPolicy.Disabled)))
        {
            await admin.BringUpAdminAsync(LoopbackTarget.SubsystemNqn);
            await admin.ExecuteAsync(admin.Command(AdminOpcodes.Identify, cdw10: 1, length: 4096), default, new byte[4096]);
            await admin.ExecuteAsync(admin.Command(AdminOpcodes.SetFeatures, cdw10: FeatureIds.NumberOfQueues, cdw11: 0), default, null);
            await using var io = new RawNvmeHost(await StreamConnector.ConnectAsync(target.EndPoint, MultipathPolicy.Disabled));
            await io.InitializeAsync(hd, dd);
            var c = await io.ConnectAsync(LoopbackTarget.SubsystemNqn, 1, 31, admin.ControllerId);
            Assert.That(c.Status.IsSuccess, Is.True);
            var data = new byte[65536];
            new Random(5).NextBytes(data);
            Assert.That((await io.ExecuteAsync(io.Command(IoOpcodes.Write, 1, 0, 0, 7), data.AsMemory(0, 4096), null)).Status.IsSuccess, Is.True);
            Assert.That((await io.ExecuteAsync(io.Command(IoOpcodes.Write, 1, 8, 0, 127), data, null, inCapsule: false)).Status.IsSuccess, Is.True);
            var back = new byte[65536];
            Assert.That((await io.ExecuteAsync(io.Command(IoOpcodes.Read, 1, 8, 0, 127, 65536), default, back)).Status.IsSuccess, Is.True);
            Assert.That(back, Is.EqualTo(data));
        }
    }

    private static Process StartCapture(string pcap, int port)
    {
        var psi = new ProcessStartInfo("/usr/bin/dumpcap", ["-i", "lo", "-f", $"tcp port {port}", "-w", pcap, "-q"])
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
        };
        var p = Process.Start(psi)!;

        // dumpcap reports "File: ..." once it is capturing.
        var deadline = DateTime.UtcNow.AddSeconds(15);
        while (DateTime.UtcNow < deadline && !File.Exists(pcap))
        {
            Thread.Sleep(50);
        }

        Thread.Sleep(300);
        return p;
    }

    private static void StopCapture(Process p)
    {
        using var kill = Process.Start("kill", ["-INT", p.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        kill!.WaitForExit();
        if (!p.WaitForExit(10_000))
        {
            p.Kill();
        }
    }

    private static int Count(string pcap, int port, string filter)
    {
        var psi = new ProcessStartInfo(Tshark!, ["-r", pcap, "-d", $"tcp.port=={port},nvme-tcp", "-Y", filter, "-T", "fields", "-e", "frame.number"])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var p = Process.Start(psi)!;
        var output = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        Assert.That(p.ExitCode, Is.Zero, $"tshark failed: {p.StandardError.ReadToEnd()}");
        return output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length;
    }
}
