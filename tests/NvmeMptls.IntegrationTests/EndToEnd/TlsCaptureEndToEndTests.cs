using System.Diagnostics;
using System.Globalization;
using System.Text;
using NvmeMptls.Initiator;
using NvmeMptls.IntegrationTests.TestKit;
using NvmeMptls.Target.Configuration;
using NvmeMptls.Target.Hosting;
using NvmeMptls.Target.Server;
using NvmeMptls.Transport.Multipath;

namespace NvmeMptls.IntegrationTests.EndToEnd;

/// <summary>
/// What a TLS session looks like on the wire: captured with dumpcap on the target's path-1 veth, only TLS records;
/// with the initiator's key log tshark decrypts it to NVMe/TCP (ICReq, Connect, data) without malformed packets. The
/// session runs on plain TCP over one path: tshark reassembles a TCP stream, not an MPTCP connection split
/// over several subflows.
/// </summary>
[TestFixture]
[NonParallelizable]
public sealed class TlsCaptureEndToEndTests : TestbedFixture
{
    private const string Marker = "E2E-PLAINTEXT-MARKER-";
    protected override int Paths => 1;
    protected override string Tag => "e2ec";

    [Test]
    public async Task TlsSession_OnTheWireOnlyTlsRecords_KeyLogDecryptsToNvmeTcp()
    {
        if (!File.Exists("/usr/bin/dumpcap") || !File.Exists("/usr/bin/tshark"))
        {
            Assert.Ignore("dumpcap/tshark are not installed (Debian packages wireshark-common, tshark)");
        }

        var key = EndToEndKit.Key(1);
        var counters = new TlsHandshakeCounters();
        await using var target = EndToEndKit.StartTarget(Bed, MultipathMode.Disabled, TlsMode.Required, EndToEndKit.TargetTls(counters, key));
        var dir = Directory.CreateTempSubdirectory("nvmemptls-e2e-capture-");
        var pcap = Path.Combine(dir.FullName, "tls.pcapng");
        var keyLog = Path.Combine(dir.FullName, "keys.log");
        try
        {
            using (var capture = StartCapture(pcap, target.Port))
            {
                try
                {
                    var options = EndToEndKit.Options(Bed, target, NvmeMultipathPolicy.Disabled, ioQueues: 1) with
                    {
                        Tls = true, TlsKey = key, TlsKeyLogFile = keyLog,
                    };
                    await using var controller = await NvmeController.ConnectAsync(options);
                    Assert.That(controller.GetQueuePaths()[0].Transport, Is.EqualTo("tls/tcp"));
                    var ns = await controller.OpenNamespaceAsync(1);
                    var block = Encoding.ASCII.GetBytes(string.Concat(Enumerable.Repeat(Marker, 8192 / Marker.Length + 1)))[..8192];
                    for (var i = 0; i < 16; i++)
                    {
                        await ns.WriteAsync((ulong)(i * 16), block);
                        var back = new byte[8192];
                        await ns.ReadAsync((ulong)(i * 16), back);
                        Assert.That(back, Is.EqualTo(block));
                    }
                }
                finally
                {
                    await Task.Delay(300);
                    StopCapture(capture);
                }
            }

            var raw = await File.ReadAllBytesAsync(pcap);
            var port = target.Port;
            var appData = Count(pcap, ["-d", $"tcp.port=={port},tls"], "tls.app_data");
            var clearCapsules = Count(pcap, ["-d", $"tcp.port=={port},nvme-tcp"], "nvme-tcp.type == 4 && nvme-tcp.hlen == 72");
            var clearIcReq = Count(pcap, ["-d", $"tcp.port=={port},nvme-tcp"], "nvme-tcp.type == 0 && nvme-tcp.hlen == 128");
            // tshark 4.0's NVMe/TCP dissector is not in the "tls.port" table, so it cannot be chained under TLS by
            // Decode As: the decrypted application data is checked as bytes (ICReq header, marker, subsystem NQN).
            string[] decrypt = ["-o", $"tls.keylog_file:{keyLog}", "-d", $"tcp.port=={port},tls"];
            var decrypted = Count(pcap, decrypt, "tls.app_data && data");
            var icReq = Count(pcap, decrypt, "data.data[0:4] == 00:00:80:00");
            var markerInside = Count(pcap, decrypt, $"data.data contains \"{Marker}\"");
            var nqnInside = Count(pcap, decrypt, $"data.data contains \"{NvmeMptls.TestKit.LoopbackTarget.SubsystemNqn}\"");
            var malformed = Count(pcap, decrypt, "_ws.malformed || _ws.expert.severity == error");
            var containsMarker = IndexOf(raw, Encoding.ASCII.GetBytes(Marker)) >= 0;
            // The PSK identity (NVMe1R01 <hostnqn> <subnqn> <digest>) is in clear in ClientHello by design; nowhere else.
            var nqnFilter = $"frame contains \"{NvmeMptls.TestKit.LoopbackTarget.SubsystemNqn}\"";
            var nqnFrames = Count(pcap, ["-d", $"tcp.port=={port},tls"], nqnFilter);
            var nqnOutsideHello = Count(pcap, ["-d", $"tcp.port=={port},tls"], $"{nqnFilter} && !(tls.handshake.type == 1)");
            EndToEndKit.Print($"capture of a TLS/TCP session ({raw.Length} bytes pcapng): {appData} TLS application-data frames; as NVMe/TCP in clear: "
                + $"{clearCapsules} command capsules, {clearIcReq} ICReq; plaintext marker on the wire: {containsMarker}, subsystem NQN in clear in {nqnFrames} frames ({nqnOutsideHello} outside ClientHello's PSK identity)");
            EndToEndKit.Print($"decrypted with the key log: {decrypted} frames of decrypted application data, {icReq} starting with an ICReq header, "
                + $"{markerInside} carrying the written marker, {nqnInside} carrying the subsystem NQN (Connect), {malformed} malformed/expert errors");

            Assert.Multiple(() =>
            {
                Assert.That(appData, Is.GreaterThan(10), "TLS application data on the wire");
                Assert.That(clearCapsules + clearIcReq, Is.Zero, "no NVMe/TCP PDU in clear");
                Assert.That(containsMarker, Is.False, "written data never crosses in clear");
                Assert.That(nqnFrames, Is.EqualTo(2), "the subsystem NQN is in clear only in the two ClientHellos' PSK identity");
                Assert.That(nqnOutsideHello, Is.Zero, "the Fabrics Connect (subsystem NQN) never crosses in clear");
                Assert.That(decrypted, Is.GreaterThan(10), "tshark decrypts the application data with the key log");
                Assert.That(icReq, Is.GreaterThanOrEqualTo(2), "each queue's first decrypted bytes are an NVMe/TCP ICReq (admin + 1 I/O)");
                Assert.That(markerInside, Is.GreaterThan(0), "the written data is inside the TLS records");
                Assert.That(nqnInside, Is.GreaterThan(0), "the Fabrics Connect is inside the TLS records");
                Assert.That(malformed, Is.Zero, "malformed packets or expert errors after decryption");
            });
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    private Process StartCapture(string pcap, int port)
    {
        // ip netns exec execs dumpcap, so the process id is dumpcap's (SIGINT stops it cleanly).
        var psi = new ProcessStartInfo("ip", ["netns", "exec", Bed.TargetNamespace, "/usr/bin/dumpcap", "-i", $"vt1-{Tag}", "-f", $"tcp port {port}", "-w", pcap, "-q"])
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
        };
        var p = Process.Start(psi)!;
        var deadline = DateTime.UtcNow.AddSeconds(15);
        while (DateTime.UtcNow < deadline && !File.Exists(pcap) && !p.HasExited)
        {
            Thread.Sleep(50);
        }

        Thread.Sleep(300);
        Assert.That(p.HasExited, Is.False, () => "dumpcap exited: " + p.StandardError.ReadToEnd());
        return p;
    }

    private static void StopCapture(Process p)
    {
        using var kill = Process.Start("kill", ["-INT", p.Id.ToString(CultureInfo.InvariantCulture)]);
        kill!.WaitForExit();
        if (!p.WaitForExit(10_000))
        {
            p.Kill();
        }
    }

    private static int Count(string pcap, string[] options, string filter)
    {
        var psi = new ProcessStartInfo("/usr/bin/tshark", ["-r", pcap, .. options, "-Y", filter, "-T", "fields", "-e", "frame.number"])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var p = Process.Start(psi)!;
        var stderr = p.StandardError.ReadToEndAsync();
        var output = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        Assert.That(p.ExitCode, Is.Zero, $"tshark {string.Join(' ', psi.ArgumentList)} failed: {stderr.Result}");
        return output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length;
    }

    private static int IndexOf(byte[] haystack, byte[] needle) => haystack.AsSpan().IndexOf(needle);
}
