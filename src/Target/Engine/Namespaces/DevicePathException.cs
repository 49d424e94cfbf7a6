namespace NvmeMptls.Target.Namespaces;

/// <summary>
/// The storage is fine but this target cannot reach it now: its Ceph client was blocklisted (fenced) or shut
/// down, or timed out talking to the cluster. The command completes with a path-related status (Internal Path
/// Error, SCT 3h, without DNR) so a multipath host retries it on another path — another gateway of the same
/// image — instead of reporting a media error. It is an <see cref="IOException"/> so code that only knows I/O
/// errors still treats it as one.
/// </summary>
public sealed class DevicePathException : IOException
{
    public DevicePathException(string message)
        : base(message)
    {
    }

    public DevicePathException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    public DevicePathException()
    {
    }
}
