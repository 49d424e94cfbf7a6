using NvmeMptls.Transport.Nvme;

namespace NvmeMptls.Initiator;

/// <summary>
/// The POSIX errno a block-device user sees for a failed namespace operation, the way the Linux NVMe host maps
/// NVMe statuses (LBA range → ENOSPC, write protect and access denied → EPERM, invalid field → EINVAL, else EIO).
/// Used by the NBD export (its error field is an errno) and by the load generator (fio reports errnos).
/// </summary>
public static class Errno
{
    /// <summary>Operation not permitted.</summary>
    public const int EPERM = 1;

    /// <summary>I/O error.</summary>
    public const int EIO = 5;

    /// <summary>Invalid argument.</summary>
    public const int EINVAL = 22;

    /// <summary>No space left on device.</summary>
    public const int ENOSPC = 28;

    /// <summary>The errno for an exception thrown by a namespace operation.</summary>
    public static int FromException(Exception exception)
    {
        if (exception is not NvmeStatusException nvme)
        {
            return exception is ArgumentException ? EINVAL : EIO;
        }

        var code = nvme.Status.Code;
        return code switch
        {
            NvmeStatusCodes.LbaOutOfRange or NvmeStatusCodes.CapacityExceeded => ENOSPC,
            NvmeStatusCodes.NamespaceWriteProtected or NvmeStatusCodes.AccessDenied => EPERM,
            NvmeStatusCodes.InvalidField or NvmeStatusCodes.SglInvalidDataLength => EINVAL,
            _ => EIO,
        };
    }
}
