using Microsoft.Win32.SafeHandles;

namespace NvmeMptls.Target.Namespaces;

/// <summary>
/// pread/pwrite on an open file or device, shared by <see cref="FileBlockDevice"/> and
/// <see cref="BlockDeviceBackend"/>. Two handles on the same file: a plain one for ordinary writes and reads, and
/// one opened write-through (O_SYNC) so a FUA write is durable when it returns without flushing everything else.
/// </summary>
internal sealed class PositionalFile : IDisposable
{
    /// <summary>Source for writing zeroes where the kernel cannot do it for us; shared, never written.</summary>
    private static readonly byte[] s_zeroes = new byte[128 * 1024];

    private readonly SafeFileHandle? _writeThrough;

    public PositionalFile(SafeFileHandle handle, SafeFileHandle? writeThrough)
    {
        Handle = handle;
        _writeThrough = writeThrough;
    }

    public SafeFileHandle Handle { get; }

    public bool IsReadOnly => _writeThrough is null;

    public static PositionalFile Open(string path, bool readOnly)
    {
        SafeFileHandle handle = File.OpenHandle(path, FileMode.Open, readOnly ? FileAccess.Read : FileAccess.ReadWrite, FileShare.ReadWrite);
        if (readOnly)
        {
            return new PositionalFile(handle, null);
        }

        try
        {
            SafeFileHandle writeThrough = File.OpenHandle(path, FileMode.Open, FileAccess.Write, FileShare.ReadWrite, FileOptions.WriteThrough);
            return new PositionalFile(handle, writeThrough);
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    public void Read(long offset, Span<byte> destination)
    {
        while (!destination.IsEmpty)
        {
            int read = RandomAccess.Read(Handle, destination, offset);
            if (read == 0)
            {
                // Only if someone truncated the file underneath us: what is gone reads as zeroes, as a hole would.
                destination.Clear();
                return;
            }

            destination = destination[read..];
            offset += read;
        }
    }

    public void Write(long offset, ReadOnlySpan<byte> source, bool forceUnitAccess)
    {
        SafeFileHandle handle = WriteHandle(forceUnitAccess);
        RandomAccess.Write(handle, source, offset);
    }

    public void WriteZeroes(long offset, long length)
    {
        SafeFileHandle handle = WriteHandle(false);
        while (length > 0)
        {
            int count = (int)Math.Min(length, s_zeroes.Length);
            RandomAccess.Write(handle, s_zeroes.AsSpan(0, count), offset);
            offset += count;
            length -= count;
        }
    }

    public void Flush()
    {
        if (_writeThrough is not null)
        {
            RandomAccess.FlushToDisk(Handle);
        }
    }

    public void Dispose()
    {
        _writeThrough?.Dispose();
        Handle.Dispose();
    }

    private SafeFileHandle WriteHandle(bool forceUnitAccess)
    {
        if (_writeThrough is null)
        {
            throw new InvalidOperationException("the namespace is read-only");
        }

        return forceUnitAccess ? _writeThrough : Handle;
    }
}
