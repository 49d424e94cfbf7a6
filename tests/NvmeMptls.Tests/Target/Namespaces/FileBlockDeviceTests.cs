using System.Diagnostics;
using NvmeMptls.Target.Namespaces;

namespace NvmeMptls.Tests.Target.Namespaces;

/// <summary>Every file-namespace behaviour, once per I/O engine (io_uring with O_DIRECT on a real file system, and pread/pwrite).</summary>
[TestFixture(IoEngine.IoUring)]
[TestFixture(IoEngine.Positional)]
public class FileBlockDeviceTests(IoEngine engine)
{
    private string _directory = "";

    [SetUp]
    public void SetUp()
    {
        // /var/tmp: a real file system (O_DIRECT), unlike a tmpfs /tmp.
        _directory = Path.Combine(IoUringTestDirectory.Root, "nvmemptls-file-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(_directory);
    }

    [TearDown]
    public void TearDown() => Directory.Delete(_directory, recursive: true);

    [Test]
    public async Task FileBlockDevice_MissingFile_IsCreatedSparseAtConfiguredSize()
    {
        string path = Path.Combine(_directory, "ns.img");
        await using FileBlockDevice device = FileBlockDevice.Open(path, 1L << 30, engine: engine);

        Assert.That(new FileInfo(path).Length, Is.EqualTo(1L << 30));
        Assert.That(device.SizeBytes, Is.EqualTo(1L << 30));
        Assert.That(AllocatedBytes(path), Is.LessThan(1L << 20), "creating the namespace must not write its blocks");
    }

    [Test]
    public void FileBlockDevice_MissingFileWithoutSize_IsRejected()
    {
        string path = Path.Combine(_directory, "none.img");
        Assert.Throws<ArgumentException>(() => FileBlockDevice.Open(path, null, engine: engine));
        Assert.That(File.Exists(path), Is.False);
    }

    [Test]
    public async Task FileBlockDevice_SmallerFile_IsExtendedKeepingItsData()
    {
        string path = Path.Combine(_directory, "small.img");
        byte[] data = BlockDeviceWorkload.Pattern(8192, 4);
        await File.WriteAllBytesAsync(path, data);

        await using FileBlockDevice device = FileBlockDevice.Open(path, 16L << 20, engine: engine);
        Assert.That(new FileInfo(path).Length, Is.EqualTo(16L << 20));
        var back = new byte[8192];
        await device.ReadAsync(0, back);
        Assert.That(back, Is.EqualTo(data));
    }

    [Test]
    public async Task FileBlockDevice_LargerFile_UsesConfiguredSizeWithoutTruncating()
    {
        string path = Path.Combine(_directory, "large.img");
        await using (FileStream stream = File.Create(path))
        {
            stream.SetLength(8L << 20);
        }

        await using FileBlockDevice device = FileBlockDevice.Open(path, 4L << 20, engine: engine);
        Assert.That(device.SizeBytes, Is.EqualTo(4L << 20));
        Assert.That(new FileInfo(path).Length, Is.EqualTo(8L << 20));
        Assert.ThrowsAsync<ArgumentOutOfRangeException>(async () => await device.ReadAsync(4L << 20, new byte[512]));
    }

    [Test]
    public async Task FileBlockDevice_NoSizeGiven_UsesFileSizeRoundedDownToBlocks()
    {
        string path = Path.Combine(_directory, "odd.img");
        await File.WriteAllBytesAsync(path, new byte[10_000]);
        await using FileBlockDevice device = FileBlockDevice.Open(path, null, 4096, engine: engine);
        Assert.That(device.SizeBytes, Is.EqualTo(8192));
    }

    [Test]
    public async Task FileBlockDevice_Reopen_KeepsWrittenData()
    {
        string path = Path.Combine(_directory, "persist.img");
        byte[] data = BlockDeviceWorkload.Pattern(64 * 1024, 5);
        await using (FileBlockDevice device = FileBlockDevice.Open(path, 8L << 20, engine: engine))
        {
            await device.WriteAsync(3L << 20, data, forceUnitAccess: false);
            await device.FlushAsync();
        }

        await using FileBlockDevice reopened = FileBlockDevice.Open(path, 8L << 20, engine: engine);
        var back = new byte[data.Length];
        await reopened.ReadAsync(3L << 20, back);
        Assert.That(back, Is.EqualTo(data));
    }

    [Test]
    public async Task FileBlockDevice_FuaWriteAndFlush_AreVisibleThroughAnotherHandle()
    {
        string path = Path.Combine(_directory, "fua.img");
        byte[] fua = BlockDeviceWorkload.Pattern(4096, 6);
        byte[] plain = BlockDeviceWorkload.Pattern(4096, 7);
        await using FileBlockDevice device = FileBlockDevice.Open(path, 1L << 20, engine: engine);
        await device.WriteAsync(0, fua, forceUnitAccess: true);
        await device.WriteAsync(4096, plain, forceUnitAccess: false);
        await device.FlushAsync();

        byte[] onDisk = await File.ReadAllBytesAsync(path);
        Assert.That(onDisk.AsSpan(0, 4096).SequenceEqual(fua), Is.True);
        Assert.That(onDisk.AsSpan(4096, 4096).SequenceEqual(plain), Is.True);
    }

    [Test]
    public async Task FileBlockDevice_DeallocateRange_PunchesHoleAndReadsZeroes()
    {
        string path = Path.Combine(_directory, "punch.img");
        byte[] data = BlockDeviceWorkload.Pattern(8 << 20, 8);
        await using FileBlockDevice device = FileBlockDevice.Open(path, 8L << 20, engine: engine);
        await device.WriteAsync(0, data, forceUnitAccess: false);
        await device.FlushAsync();
        long allocated = AllocatedBytes(path);
        Assert.That(allocated, Is.GreaterThanOrEqualTo(8L << 20), "the written data occupies blocks");

        await device.DeallocateAsync(2L << 20, 4L << 20);

        long afterPunch = AllocatedBytes(path);
        Assert.That(allocated - afterPunch, Is.GreaterThanOrEqualTo(4L << 20), "st_blocks drops by the punched range");
        var back = new byte[8 << 20];
        await device.ReadAsync(0, back);
        Assert.That(back.AsSpan(2 << 20, 4 << 20).IndexOfAnyExcept((byte)0), Is.EqualTo(-1));
        Assert.That(back.AsSpan(0, 2 << 20).SequenceEqual(data.AsSpan(0, 2 << 20)), Is.True);
        Assert.That(back.AsSpan(6 << 20).SequenceEqual(data.AsSpan(6 << 20)), Is.True);
        Assert.That(new FileInfo(path).Length, Is.EqualTo(8L << 20), "punching keeps the size");
    }

    [Test]
    public async Task FileBlockDevice_WriteZeroesWithoutDeallocate_ZeroesAndKeepsBlocks()
    {
        string path = Path.Combine(_directory, "zero.img");
        await using FileBlockDevice device = FileBlockDevice.Open(path, 4L << 20, engine: engine);
        await device.WriteAsync(0, BlockDeviceWorkload.Pattern(4 << 20, 9), forceUnitAccess: false);
        await device.FlushAsync();
        long allocated = AllocatedBytes(path);

        await device.WriteZeroesAsync(1L << 20, 1L << 20, deallocate: false);
        var back = new byte[1 << 20];
        await device.ReadAsync(1L << 20, back);
        Assert.That(back, Is.All.Zero);
        Assert.That(AllocatedBytes(path), Is.EqualTo(allocated), "without DEAC the range stays allocated");

        await device.WriteZeroesAsync(1L << 20, 1L << 20, deallocate: true);
        Assert.That(AllocatedBytes(path), Is.LessThanOrEqualTo(allocated - (1L << 20)), "with DEAC the range is unmapped");
    }

    [Test]
    public async Task FileBlockDevice_ConcurrentRandomDisjointIo_MatchesModel()
    {
        string path = Path.Combine(_directory, "concurrent.img");
        await using FileBlockDevice device = FileBlockDevice.Open(path, 16L << 20, engine: engine);
        await BlockDeviceWorkload.RunAndVerifyAsync(device, device.SizeBytes, workers: 4, operationsPerWorker: 1500, seed: 11);
    }

    [Test]
    public async Task FileBlockDevice_ReportsTheEngineItUses()
    {
        string path = Path.Combine(_directory, "engine.img");
        await using FileBlockDevice device = FileBlockDevice.Open(path, 1L << 20, engine: engine);
        if (engine == IoEngine.Positional)
        {
            Assert.That(device.Engine, Is.EqualTo("positional"));
            Assert.That(device.UsesIoUring, Is.False);
            Assert.That(device.CompletesInline, Is.False);
            return;
        }

        Assert.That(device.UsesIoUring, Is.True, device.Engine);
        Assert.That(device.UsesDirectIo, Is.True, $"{_directory} is on a real file system, so O_DIRECT: {device.Engine}");
        Assert.That(device.Engine, Is.EqualTo("io_uring, O_DIRECT"));
        Assert.That(device.CompletesInline, Is.True, "io_uring calls only queue a submission");
    }

    [Test]
    public async Task FileBlockDevice_UnalignedAndAlignedBuffers_RoundTrip()
    {
        string path = Path.Combine(_directory, "align.img");
        await using FileBlockDevice device = FileBlockDevice.Open(path, 4L << 20, engine: engine);
        byte[] backing = new byte[64 * 1024 + 1];
        byte[] data = BlockDeviceWorkload.Pattern(64 * 1024, 12);

        // Offset 1 of a managed array is never 512-aligned: the bounce buffer path, both ways.
        data.CopyTo(backing.AsMemory(1));
        await device.WriteAsync(512 * 3, backing.AsMemory(1, data.Length), forceUnitAccess: true);
        var back = new byte[data.Length + 1];
        await device.ReadAsync(512 * 3, back.AsMemory(1, data.Length));
        Assert.That(back.AsSpan(1).SequenceEqual(data), Is.True);
        Assert.That(back[0], Is.Zero, "nothing written before the destination");

        // Pinned, page-aligned native memory: used in place.
        Memory<byte> aligned = AlignedBuffer.Allocate(8192);
        data.AsSpan(0, 8192).CopyTo(aligned.Span);
        await device.WriteAsync(1L << 20, aligned, forceUnitAccess: false);
        aligned.Span.Clear();
        await device.ReadAsync(1L << 20, aligned);
        Assert.That(aligned.Span.SequenceEqual(data.AsSpan(0, 8192)), Is.True);
    }

    [Test]
    public async Task FileBlockDevice_ReadOnly_RefusesWrites()
    {
        string path = Path.Combine(_directory, "ro.img");
        await File.WriteAllBytesAsync(path, new byte[1 << 20]);
        await using FileBlockDevice device = FileBlockDevice.Open(path, null, readOnly: true, engine: engine);
        Assert.That(device.IsReadOnly, Is.True);
        Assert.ThrowsAsync<InvalidOperationException>(async () => await device.WriteAsync(0, new byte[512], false));
        Assert.ThrowsAsync<InvalidOperationException>(async () => await device.DeallocateAsync(0, 512));
    }

    /// <summary>st_blocks × 512, as stat(1) reports it.</summary>
    internal static long AllocatedBytes(string path)
    {
        using var stat = Process.Start(new ProcessStartInfo("stat", ["-c", "%b %B", path]) { RedirectStandardOutput = true })!;
        string[] fields = stat.StandardOutput.ReadToEnd().Trim().Split(' ');
        stat.WaitForExit();
        return long.Parse(fields[0], System.Globalization.CultureInfo.InvariantCulture) * long.Parse(fields[1], System.Globalization.CultureInfo.InvariantCulture);
    }
}
