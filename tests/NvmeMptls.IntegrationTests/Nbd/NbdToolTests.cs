using System.Diagnostics;
using System.Security.Cryptography;
using System.Text.Json;
using NvmeMptls.Initiator;
using NvmeMptls.Initiator.Nbd;
using NvmeMptls.IntegrationTests.TestKit;
using NvmeMptls.TestKit;

namespace NvmeMptls.IntegrationTests.Nbd;

/// <summary>The export checked by independent NBD clients: libnbd's nbdinfo and nbdcopy, qemu-img and qemu-io.</summary>
[TestFixtureSource(typeof(DeviceFactory), nameof(DeviceFactory.All))]
[NonParallelizable]
public sealed class NbdToolTests
{
    private const long Size = 256L * 1024 * 1024;
    private readonly DeviceFactory _factory;
    private TestDevice _test = null!;
    private INamespaceDevice _device = null!;
    private NbdServer _server = null!;
    private string _socket = "";

    public NbdToolTests(DeviceFactory factory)
    {
        _factory = factory;
    }

    private string Uri => $"nbd+unix:///nvme?socket={_socket}";

    [SetUp]
    public async Task SetUp()
    {
        _test = await _factory.CreateAsync(Size);
        _device = _test.Device;
        _socket = Path.Combine(Path.GetTempPath(), $"nbdtest-{Guid.NewGuid():N}.sock");
        _server = new NbdServer(new NbdServerOptions { SocketPath = _socket }, [_device, _device]);
        await _server.StartAsync();
    }

    [TearDown]
    public async Task TearDown()
    {
        await _server.DisposeAsync();
        await _test.DisposeAsync();
        GC.Collect();
    }

    [Test]
    public async Task NbdInfo_ReportsSizeBlockSizesAndCapabilities()
    {
        ToolRunner.Require("nbdinfo", "libnbd-bin");
        var result = await ToolRunner.RunAsync("nbdinfo", ["--json", Uri]);
        Assert.That(result.ExitCode, Is.Zero, result.ToString());
        using var json = JsonDocument.Parse(result.Stdout);
        var export = json.RootElement.GetProperty("exports")[0];
        TestContext.Out.WriteLine(result.Stdout);
        Assert.Multiple(() =>
        {
            Assert.That(export.GetProperty("export-size").GetInt64(), Is.EqualTo(Size));
            Assert.That(export.GetProperty("block_size_minimum").GetInt64(), Is.EqualTo(1));
            Assert.That(export.GetProperty("block_size_preferred").GetInt64(), Is.EqualTo(Math.Max(4096, _device.LbaSize)));
            Assert.That(export.GetProperty("block_size_maximum").GetInt64(), Is.EqualTo(NbdServerOptions.DefaultMaxRequestBytes));
            Assert.That(export.GetProperty("can_flush").GetBoolean(), Is.True);
            Assert.That(export.GetProperty("can_trim").GetBoolean(), Is.True);
            Assert.That(export.GetProperty("can_zero").GetBoolean(), Is.True);
            Assert.That(export.GetProperty("can_fua").GetBoolean(), Is.True);
            Assert.That(export.GetProperty("can_multi_conn").GetBoolean(), Is.True);
            Assert.That(export.GetProperty("is_read_only").GetBoolean(), Is.False);
            Assert.That(export.GetProperty("export-name").GetString(), Is.EqualTo("nvme"));
        });
    }

    [Test]
    public async Task NbdCopy_256MiBInAndOut_ChecksumsMatch()
    {
        ToolRunner.Require("nbdcopy", "libnbd-bin");
        var dir = Directory.CreateTempSubdirectory("nbdcopy-");
        try
        {
            var source = Path.Combine(dir.FullName, "in.img");
            var back = Path.Combine(dir.FullName, "out.img");
            var data = new byte[Size];
            new Random(42).NextBytes(data);
            await File.WriteAllBytesAsync(source, data);
            var expected = SHA256.HashData(data);
            data = null;

            var watch = Stopwatch.StartNew();
            var copyIn = await ToolRunner.RunAsync("nbdcopy", ["--flush", source, Uri]);
            var inSeconds = watch.Elapsed.TotalSeconds;
            Assert.That(copyIn.ExitCode, Is.Zero, copyIn.ToString());

            watch.Restart();
            var copyOut = await ToolRunner.RunAsync("nbdcopy", [Uri, back]);
            var outSeconds = watch.Elapsed.TotalSeconds;
            Assert.That(copyOut.ExitCode, Is.Zero, copyOut.ToString());

            await using (var stream = File.OpenRead(back))
            {
                Assert.That(await SHA256.HashDataAsync(stream), Is.EqualTo(expected));
            }

            Assert.That(SHA256.HashData(_test.Snapshot(0, (int)Size)), Is.EqualTo(expected));
            TestContext.Out.WriteLine($"nbdcopy 256 MiB ({_factory}): in {256 / inSeconds:F0} MiB/s, out {256 / outSeconds:F0} MiB/s");
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    [Test]
    public async Task QemuImgInfo_ReportsVirtualSize()
    {
        ToolRunner.Require("qemu-img", "qemu-utils");
        var result = await ToolRunner.RunAsync("qemu-img", ["info", "--output=json", Uri]);
        Assert.That(result.ExitCode, Is.Zero, result.ToString());
        using var json = JsonDocument.Parse(result.Stdout);
        Assert.That(json.RootElement.GetProperty("virtual-size").GetInt64(), Is.EqualTo(Size));
    }

    [Test]
    public async Task QemuIo_WritePatternThenRead_VerifiesThroughExport()
    {
        ToolRunner.Require("qemu-io", "qemu-utils");
        var result = await ToolRunner.RunAsync(
            "qemu-io", ["-f", "raw", "-c", "write -P 0xab 0 1M", "-c", "read -P 0xab 0 1M", "-c", "flush", Uri]);
        Assert.That(result.ExitCode, Is.Zero, result.ToString());
        Assert.That(result.Stdout, Does.Not.Contain("fail").IgnoreCase, result.ToString());
        Assert.That(result.Stdout, Does.Contain("read 1048576/1048576 bytes"), result.ToString());
        var stored = _test.Snapshot(0, 1024 * 1024);
        Assert.That(Array.TrueForAll(stored, b => b == 0xab), Is.True);
    }

    [Test]
    public async Task QemuIo_UnalignedWrites_ReadModifyWriteKeepsNeighbours()
    {
        ToolRunner.Require("qemu-io", "qemu-utils");
        var result = await ToolRunner.RunAsync("qemu-io", [
            "-f", "raw",
            "-c", "write -P 0x11 0 64k",
            "-c", "write -P 0xcd 1000 3000",
            "-c", "write -z 5000 700",
            "-c", "read -P 0x11 0 1000",
            "-c", "read -P 0xcd 1000 3000",
            "-c", "read -P 0x11 4000 1000",
            "-c", "read -P 0 5000 700",
            "-c", "read -P 0x11 5700 2492",
            Uri]);
        Assert.That(result.ExitCode, Is.Zero, result.ToString());
        Assert.That(result.Stdout, Does.Not.Contain("fail").IgnoreCase, result.ToString());
        var stored = _test.Snapshot(0, 8192);
        Assert.Multiple(() =>
        {
            Assert.That(stored[999], Is.EqualTo(0x11));
            Assert.That(stored[1000], Is.EqualTo(0xcd));
            Assert.That(stored[3999], Is.EqualTo(0xcd));
            Assert.That(stored[4000], Is.EqualTo(0x11));
            Assert.That(stored[5000], Is.Zero);
            Assert.That(stored[5699], Is.Zero);
            Assert.That(stored[5700], Is.EqualTo(0x11));
        });
    }

    [Test]
    public async Task QemuIo_InjectedMediaError_IsReportedAsIoError()
    {
        ToolRunner.Require("qemu-io", "qemu-utils");
        var lba = (ulong)(8192 / _device.LbaSize);
        _test.Faults.InjectError(lba, MemoryNamespaceDevice.Status(Transport.Nvme.NvmeStatusCodes.UnrecoveredReadError), InjectOn.Read);
        var result = await ToolRunner.RunAsync("qemu-io", ["-f", "raw", "-c", "read 0 64k", Uri]);
        Assert.That(result.Stdout + result.Stderr, Does.Contain("Input/output error"), result.ToString());
    }

    [Test]
    public async Task QemuIo_TrimAndZeroLargerThanMaxBlockSize_Succeed()
    {
        ToolRunner.Require("qemu-io", "qemu-utils");
        var result = await ToolRunner.RunAsync("qemu-io", [
            "-f", "raw", "-c", "write -P 0x5a 0 64M", "-c", "discard 0 48M", "-c", "write -z 48M 16M", "-c", "read -P 0 0 64M", Uri]);
        Assert.That(result.ExitCode, Is.Zero, result.ToString());
        Assert.That(result.Stdout + result.Stderr, Does.Not.Contain("failed").IgnoreCase, result.ToString());
    }
}
