using Microsoft.Extensions.Logging.Abstractions;
using NvmeMptls.Target.Namespaces;

namespace NvmeMptls.Tests.Target.Namespaces;

/// <summary>The io_uring binding against real files in /var/tmp (O_DIRECT) and /dev/shm (tmpfs: buffered fallback).</summary>
public sealed class IoUringFileTests
{
    private string _directory = "";

    [SetUp]
    public void SetUp() => _directory = IoUringTestDirectory.CreateForIoUring("nvmemptls-uring-");

    [TearDown]
    public void TearDown() => IoUringTestDirectory.Delete(_directory);

    [Test]
    public async Task WriteFlushRead_RoundTripThroughTheKernel_AndLandsInTheFile()
    {
        string path = CreateFile("rw.img", 1 << 20);
        using IoUringFile file = Open(path);
        Assert.That(file.Direct, Is.True, "/var/tmp is a real file system: O_DIRECT");

        byte[] data = BlockDeviceWorkload.Pattern(128 * 1024, 21);
        await file.WriteAsync(64 * 1024, data, forceUnitAccess: false);
        await file.WriteAsync(512 * 1024, data.AsMemory(0, 4096), forceUnitAccess: true);
        await file.FlushAsync();

        byte[] onDisk = await File.ReadAllBytesAsync(path);
        Assert.That(onDisk.AsSpan(64 * 1024, data.Length).SequenceEqual(data), Is.True, "written data through another handle");
        Assert.That(onDisk.AsSpan(512 * 1024, 4096).SequenceEqual(data.AsSpan(0, 4096)), Is.True, "FUA (RWF_DSYNC) write");

        var back = new byte[data.Length];
        await file.ReadAsync(64 * 1024, back);
        Assert.That(back, Is.EqualTo(data));
    }

    [Test]
    public async Task MoreConcurrentRequestsThanRingEntries_AllCompleteWithTheirOwnData()
    {
        const int Requests = 300;
        string path = CreateFile("many.img", Requests * 4096);
        using IoUringFile file = Open(path, entries: 8);
        Assert.That(file.Capacity, Is.EqualTo(7), "one entry stays free for the wake-up NOP of Dispose");

        var buffers = new byte[Requests][];
        var writes = new Task[Requests];
        for (int i = 0; i < Requests; i++)
        {
            buffers[i] = BlockDeviceWorkload.Pattern(4096, 1000 + i);
            writes[i] = file.WriteAsync(i * 4096L, buffers[i], forceUnitAccess: false).AsTask();
        }

        Assert.That(file.InFlight, Is.LessThanOrEqualTo(file.Capacity), "the rest waits for a slot");
        await Task.WhenAll(writes).WaitAsync(TimeSpan.FromMinutes(2));

        var reads = new Task[Requests];
        var backs = new byte[Requests][];
        for (int i = 0; i < Requests; i++)
        {
            backs[i] = new byte[4096];
            reads[i] = file.ReadAsync(i * 4096L, backs[i]).AsTask();
        }

        await Task.WhenAll(reads).WaitAsync(TimeSpan.FromMinutes(2));
        for (int i = 0; i < Requests; i++)
        {
            Assert.That(backs[i], Is.EqualTo(buffers[i]), $"block {i}");
        }

        Assert.That(file.InFlight, Is.Zero);
    }

    [Test]
    public async Task ReadPastTheEndOfTheFile_ShortReadIsFinishedWithZeroes()
    {
        string path = Path.Combine(_directory, "short.img");
        byte[] data = BlockDeviceWorkload.Pattern(4096, 22);
        await File.WriteAllBytesAsync(path, data);
        using IoUringFile file = Open(path);

        var back = new byte[16384];
        Array.Fill(back, (byte)0xAA);
        await file.ReadAsync(0, back);
        Assert.That(back.AsSpan(0, 4096).SequenceEqual(data), Is.True);
        Assert.That(back.AsSpan(4096).IndexOfAnyExcept((byte)0), Is.EqualTo(-1), "past the end reads as zeroes");
    }

    [Test]
    public async Task FallocatePunchHole_RangeReadsZeroes()
    {
        string path = CreateFile("punch.img", 1 << 20);
        using IoUringFile file = Open(path);
        byte[] data = BlockDeviceWorkload.Pattern(1 << 20, 23);
        await file.WriteAsync(0, data, forceUnitAccess: false);
        await file.FallocateAsync(IoUringNative.FALLOC_FL_PUNCH_HOLE | IoUringNative.FALLOC_FL_KEEP_SIZE, 256 * 1024, 256 * 1024);

        var back = new byte[1 << 20];
        await file.ReadAsync(0, back);
        Assert.That(back.AsSpan(256 * 1024, 256 * 1024).IndexOfAnyExcept((byte)0), Is.EqualTo(-1));
        Assert.That(back.AsSpan(0, 256 * 1024).SequenceEqual(data.AsSpan(0, 256 * 1024)), Is.True);
        Assert.That(back.AsSpan(512 * 1024).SequenceEqual(data.AsSpan(512 * 1024)), Is.True);
    }

    [Test]
    public void KernelError_FailsTheRequestWithIOExceptionNamingTheErrno()
    {
        string path = CreateFile("ro.img", 65536);
        using IoUringFile file = Open(path, readOnly: true);

        // A write on a descriptor opened read-only: the kernel answers -EBADF (9) in the completion.
        var error = Assert.ThrowsAsync<IOException>(async () => await file.WriteAsync(0, new byte[4096], forceUnitAccess: false));
        Assert.That(error!.Message, Does.Contain("errno 9"));
        Assert.That(file.InFlight, Is.Zero, "the failed request gave its slot back");
    }

    [Test]
    public void AfterDispose_NewRequestsFailWithObjectDisposed()
    {
        string path = CreateFile("closed.img", 65536);
        IoUringFile file = Open(path);
        file.Dispose();
        Assert.ThrowsAsync<ObjectDisposedException>(async () => await file.ReadAsync(0, new byte[4096]));
    }

    [Test]
    public async Task OnTmpfs_DirectWhereTheKernelAllowsIt_ElseBufferedFallback_DataRoundTrips()
    {
        const string Shm = "/dev/shm";
        if (!Directory.Exists(Shm))
        {
            Assert.Ignore("no /dev/shm");
        }

        string path = Path.Combine(Shm, "nvmemptls-uring-" + Guid.NewGuid().ToString("N") + ".img");
        try
        {
            await using (FileStream stream = File.Create(path))
            {
                stream.SetLength(65536);
            }

            using IoUringFile file = Open(path);

            // tmpfs takes O_DIRECT since Linux 6.6; before, open() refuses it with EINVAL and the ring stays buffered.
            bool kernelAllows = Environment.OSVersion.Version >= new Version(6, 6);
            Assert.That(file.Direct, Is.EqualTo(kernelAllows), $"kernel {Environment.OSVersion.Version}");
            Assert.That(file.MemoryAlignment, kernelAllows ? Is.GreaterThan(1) : Is.EqualTo(1));
            byte[] data = BlockDeviceWorkload.Pattern(8192, 24);
            await file.WriteAsync(4096, data, forceUnitAccess: true);
            var back = new byte[8192];
            await file.ReadAsync(4096, back);
            Assert.That(back, Is.EqualTo(data));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Test]
    public async Task Buffered_WhenDirectIsNotAsked_UsesAnyBufferInPlace()
    {
        string path = CreateFile("buffered.img", 65536);
        IoUringFile? file = IoUringFile.TryOpen(path, readOnly: false, direct: false, logicalBlockSize: 512, NullLogger.Instance, out string reason);
        if (file is null)
        {
            Assert.Ignore($"io_uring is not available here: {reason}");
        }

        using (file)
        {
            Assert.That(file!.Direct, Is.False);
            Assert.That(file.MemoryAlignment, Is.EqualTo(1));
            byte[] data = BlockDeviceWorkload.Pattern(1024, 25);
            var source = new byte[1025];
            data.CopyTo(source, 1);
            await file.WriteAsync(512, source.AsMemory(1), forceUnitAccess: false);
            var back = new byte[1024];
            await file.ReadAsync(512, back);
            Assert.That(back, Is.EqualTo(data));
        }
    }

    [Test]
    public void SetupRefusedByTheKernel_IsReportedAsUnavailable_WithTheErrno()
    {
        // io_uring_setup(0 entries) is EINVAL: the same path as ENOSYS/EPERM (no ring, a reason, the caller falls back).
        string path = CreateFile("refused.img", 4096);
        IoUringFile? file = IoUringFile.TryOpen(path, readOnly: false, direct: true, logicalBlockSize: 512, NullLogger.Instance, out string reason, entries: 0);
        Assert.That(file, Is.Null);
        Assert.That(reason, Is.EqualTo("io_uring_setup failed with errno 22"));
    }

    private string CreateFile(string name, long size)
    {
        string path = Path.Combine(_directory, name);
        using FileStream stream = File.Create(path);
        stream.SetLength(size);
        return path;
    }

    /// <summary>Opens <paramref name="path"/> with O_DIRECT asked for; the test is ignored where io_uring is unavailable.</summary>
    internal static IoUringFile Open(string path, bool readOnly = false, uint entries = IoUringFile.DefaultEntries)
    {
        IoUringFile? file = IoUringFile.TryOpen(path, readOnly, direct: true, logicalBlockSize: 512, NullLogger.Instance, out string reason, entries);
        if (file is null)
        {
            Assert.Ignore($"io_uring is not available here: {reason}");
        }

        return file!;
    }
}
