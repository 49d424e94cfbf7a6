namespace NvmeMptls.Target.Namespaces;

public sealed partial class FileBlockDevice
{
    private partial bool TryPunchHole(long offset, long length)
    {
        if (!OperatingSystem.IsLinux())
        {
            _punchUnsupported = true;
            return false;
        }

        if (LinuxBlockIo.TryPunchHole(Storage.Handle, offset, length, out int errno))
        {
            return true;
        }

        if (errno is LinuxBlockIo.EOPNOTSUPP or LinuxBlockIo.ENOTTY)
        {
            _punchUnsupported = true;
            NamespaceLog.FallingBackToZeroes(Logger, "fallocate(PUNCH_HOLE)", Path, errno);
            return false;
        }

        throw new IOException($"fallocate(PUNCH_HOLE) on {Path} at {offset}+{length} failed with errno {errno}");
    }

    private partial bool TryZeroRange(long offset, long length)
    {
        if (!OperatingSystem.IsLinux())
        {
            _zeroRangeUnsupported = true;
            return false;
        }

        if (LinuxBlockIo.TryZeroRange(Storage.Handle, offset, length, out int errno))
        {
            return true;
        }

        if (errno is LinuxBlockIo.EOPNOTSUPP or LinuxBlockIo.ENOTTY)
        {
            _zeroRangeUnsupported = true;
            NamespaceLog.FallingBackToZeroes(Logger, "fallocate(ZERO_RANGE)", Path, errno);
            return false;
        }

        throw new IOException($"fallocate(ZERO_RANGE) on {Path} at {offset}+{length} failed with errno {errno}");
    }
}
