namespace NvmeMptls.Tests.Target.Namespaces;

/// <summary>
/// Where the io_uring and file-namespace tests put their files: /var/tmp, a real file system on Linux (O_DIRECT works
/// there; a tmpfs /tmp refuses it with EINVAL), else the temporary folder.
/// </summary>
internal static class IoUringTestDirectory
{
    public static string Root => OperatingSystem.IsLinux() && Directory.Exists("/var/tmp") ? "/var/tmp" : Path.GetTempPath();

    /// <summary>A fresh folder under <see cref="Root"/> for one io_uring test; the test is ignored off Linux.</summary>
    public static string CreateForIoUring(string prefix)
    {
        if (!OperatingSystem.IsLinux())
        {
            Assert.Ignore("io_uring is Linux only");
        }

        string directory = Path.Combine(Root, prefix + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(directory);
        return directory;
    }

    /// <summary>Removes a folder made by <see cref="CreateForIoUring"/> (nothing when the test was ignored before it existed).</summary>
    public static void Delete(string directory)
    {
        if (directory.Length > 0 && Directory.Exists(directory))
        {
            Directory.Delete(directory, recursive: true);
        }
    }
}

/// <summary>A page-aligned slice of a pinned (pinned-object-heap) array, for buffers that O_DIRECT can use in place.</summary>
internal static class AlignedBuffer
{
    public static Memory<byte> Allocate(int length)
    {
        byte[] array = GC.AllocateArray<byte>(length + 4096, pinned: true);
        long address = System.Runtime.InteropServices.Marshal.UnsafeAddrOfPinnedArrayElement(array, 0).ToInt64();
        int skip = (int)((4096 - (address % 4096)) % 4096);
        return array.AsMemory(skip, length);
    }
}
