using System.Diagnostics;
using NvmeMptls.Target.Configuration;
using NvmeMptls.Target.Hosting;
using NvmeMptls.Target.Namespaces;

namespace NvmeMptls.Tests.Target.Namespaces;

/// <summary>
/// Runs against a loop device over a sparse file, once per I/O engine (io_uring with O_DIRECT, pread/pwrite); needs
/// root and losetup, and skips saying so otherwise.
/// </summary>
[NonParallelizable]
[TestFixture(IoEngine.IoUring)]
[TestFixture(IoEngine.Positional)]
public class BlockDeviceBackendTests(IoEngine engine)
{
    private string _directory = "";
    private readonly List<string> _loopDevices = [];

    [SetUp]
    public void SetUp()
    {
        _directory = Path.Combine(Path.GetTempPath(), "nvmemptls-blk-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(_directory);
    }

    [TearDown]
    public void TearDown()
    {
        foreach (string loop in _loopDevices)
        {
            Run("losetup", "-d", loop);
        }

        _loopDevices.Clear();
        Directory.Delete(_directory, recursive: true);
    }

    [Test]
    public async Task BlockDeviceBackend_LoopDevice_ReportsSizeAndBlockSize()
    {
        string loop = AttachLoop(32L << 20, sectorSize: 512);
        await using BlockDeviceBackend device = BlockDeviceBackend.Open(loop, engine: engine);
        Assert.That(device.DeviceSizeBytes, Is.EqualTo(32L << 20));
        Assert.That(device.SizeBytes, Is.EqualTo(32L << 20));
        Assert.That(device.DeviceLogicalBlockSize, Is.EqualTo(512));
        Assert.That(device.LogicalBlockSize, Is.EqualTo(512));
        Assert.That(device.Kind, Is.EqualTo("block"));
    }

    [Test]
    public async Task BlockDeviceBackend_LoopDevice_CompletesInlineOnlyWithIoUring()
    {
        string loop = AttachLoop(8L << 20, sectorSize: 512);
        await using BlockDeviceBackend device = BlockDeviceBackend.Open(loop, engine: engine);
        Assert.That(device.UsesIoUring, Is.EqualTo(engine == IoEngine.IoUring), device.Engine);
        Assert.That(device.CompletesInline, Is.EqualTo(engine == IoEngine.IoUring), "io_uring queues; pread/pwrite blocks");
        if (engine == IoEngine.IoUring)
        {
            Assert.That(device.UsesDirectIo, Is.True, device.Engine);
        }
    }

    [Test]
    public async Task BlockDeviceBackend_4KiBSectorLoop_DefaultsTo4096AndRejects512()
    {
        string loop = AttachLoop(16L << 20, sectorSize: 4096);
        await using (BlockDeviceBackend device = BlockDeviceBackend.Open(loop, engine: engine))
        {
            Assert.That(device.LogicalBlockSize, Is.EqualTo(4096));
        }

        Assert.Throws<IOException>(() => BlockDeviceBackend.Open(loop, logicalBlockSize: 512, engine: engine));
    }

    [Test]
    public async Task BlockDeviceBackend_ConcurrentRandomDisjointIo_MatchesModel()
    {
        string loop = AttachLoop(16L << 20, sectorSize: 512);
        await using BlockDeviceBackend device = BlockDeviceBackend.Open(loop, engine: engine);
        await BlockDeviceWorkload.RunAndVerifyAsync(device, device.SizeBytes, workers: 4, operationsPerWorker: 1500, seed: 13);
    }

    [Test]
    public async Task BlockDeviceBackend_DeallocateAndWriteZeroes_ReadZeroesAndKeepNeighbours()
    {
        string loop = AttachLoop(8L << 20, sectorSize: 512);
        byte[] data = BlockDeviceWorkload.Pattern(8 << 20, 14);
        await using BlockDeviceBackend device = BlockDeviceBackend.Open(loop, engine: engine);
        await device.WriteAsync(0, data, forceUnitAccess: true);
        await device.FlushAsync();

        await device.DeallocateAsync(1L << 20, 1L << 20);
        await device.WriteZeroesAsync(4L << 20, 1L << 20, deallocate: false);

        var back = new byte[8 << 20];
        await device.ReadAsync(0, back);
        Assert.That(back.AsSpan(1 << 20, 1 << 20).IndexOfAnyExcept((byte)0), Is.EqualTo(-1), "discarded range");
        Assert.That(back.AsSpan(4 << 20, 1 << 20).IndexOfAnyExcept((byte)0), Is.EqualTo(-1), "zeroed range");
        Assert.That(back.AsSpan(2 << 20, 2 << 20).SequenceEqual(data.AsSpan(2 << 20, 2 << 20)), Is.True);
        Assert.That(back.AsSpan(5 << 20).SequenceEqual(data.AsSpan(5 << 20)), Is.True);
    }

    [Test]
    public async Task BlockDeviceBackend_ConfiguredSize_LimitsNamespaceAndMayNotExceedDevice()
    {
        string loop = AttachLoop(8L << 20, sectorSize: 512);
        await using (BlockDeviceBackend device = BlockDeviceBackend.Open(loop, sizeBytes: 4L << 20, engine: engine))
        {
            Assert.That(device.SizeBytes, Is.EqualTo(4L << 20));
        }

        Assert.Throws<IOException>(() => BlockDeviceBackend.Open(loop, sizeBytes: 16L << 20, engine: engine));
    }

    [Test]
    public async Task BlockDeviceFactory_BlockBacking_OpensLoopDevice()
    {
        string loop = AttachLoop(4L << 20, sectorSize: 512);
        await using IBlockDevice device = BlockDeviceFactory.Open(new NamespaceOptions { Backing = NamespaceBacking.Block, Path = loop, SizeBytes = null, IoEngine = engine });
        Assert.That(device, Is.InstanceOf<BlockDeviceBackend>());
        Assert.That(device.SizeBytes, Is.EqualTo(4L << 20));
    }

    [Test]
    public void BlockDeviceBackend_RegularFile_IsRejectedAsNotABlockDevice()
    {
        if (!OperatingSystem.IsLinux())
        {
            Assert.Ignore("block devices are Linux-only");
        }

        string path = Path.Combine(_directory, "plain.img");
        File.WriteAllBytes(path, new byte[4096]);
        IOException error = Assert.Throws<IOException>(() => BlockDeviceBackend.Open(path, engine: engine))!;
        Assert.That(error.Message, Does.Contain("not a block device"));
    }

    private string AttachLoop(long size, int sectorSize)
    {
        if (!OperatingSystem.IsLinux() || Environment.UserName != "root" || !File.Exists("/dev/loop-control"))
        {
            Assert.Ignore("needs Linux, root and /dev/loop-control to attach a loop device");
        }

        string backing = Path.Combine(_directory, $"loop{_loopDevices.Count}.img");
        using (FileStream stream = File.Create(backing))
        {
            stream.SetLength(size);
        }

        (int code, string output) = Run("losetup", "-f", "--show", "--sector-size", sectorSize.ToString(System.Globalization.CultureInfo.InvariantCulture), backing);
        if (code != 0 || !output.StartsWith("/dev/", StringComparison.Ordinal))
        {
            Assert.Ignore($"losetup could not attach a loop device (exit {code}: {output}); is util-linux installed and are loop devices allowed here?");
        }

        _loopDevices.Add(output);
        return output;
    }

    private static (int Code, string Output) Run(string program, params string[] arguments)
    {
        try
        {
            using var process = Process.Start(new ProcessStartInfo(program, arguments) { RedirectStandardOutput = true, RedirectStandardError = true })!;
            string output = process.StandardOutput.ReadToEnd() + process.StandardError.ReadToEnd();
            process.WaitForExit();
            return (process.ExitCode, output.Trim());
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            return (-1, e.Message);
        }
    }
}
