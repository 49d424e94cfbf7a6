using System.Runtime.InteropServices;

namespace NvmeMptls.Target.Configuration;

/// <summary>
/// What a file holding key material (a TLS PSK interchange string, a DH-HMAC-CHAP secret) must satisfy before the
/// service reads it: no group or other permission bits, and owned by the user the service runs as (so nobody else
/// can replace it or make it readable). Checked by the validator, which names the key and the file.
/// </summary>
internal static class KeyFilePermissions
{
    private const UnixFileMode GroupOrOthers = UnixFileMode.GroupRead | UnixFileMode.GroupWrite | UnixFileMode.GroupExecute
        | UnixFileMode.OtherRead | UnixFileMode.OtherWrite | UnixFileMode.OtherExecute;

    /// <summary>Why <paramref name="file"/> may not hold a key, or null when it may.</summary>
    public static string? Problem(string file)
    {
        if (OperatingSystem.IsWindows())
        {
            return null;
        }

        UnixFileMode mode = File.GetUnixFileMode(file);
        if ((mode & GroupOrOthers) != 0)
        {
            return $"is accessible to group or others (mode {Convert.ToString((int)mode, 8)}); make it readable only by the service user (chmod 600)";
        }

        if (OperatingSystem.IsLinux() && OwnerOf(file) is { } owner)
        {
            uint self = geteuid();
            if (owner != self)
            {
                return $"is owned by uid {owner}, not by the service user (uid {self}); chown it to the user the target runs as";
            }
        }

        return null;
    }

    /// <summary>The owner's uid (statx; its layout is the same on every architecture), or null when it cannot be read.</summary>
    internal static uint? OwnerOf(string file)
    {
        // struct statx: stx_mask u32 @0, stx_blksize u32 @4, stx_attributes u64 @8, stx_nlink u32 @16, stx_uid u32 @20.
        const int AtFdCwd = -100;
        const uint StatxUid = 0x8;
        var buffer = new byte[256];
        try
        {
            if (statx(AtFdCwd, file, 0, StatxUid, buffer) != 0 || (BitConverter.ToUInt32(buffer, 0) & StatxUid) == 0)
            {
                return null;
            }
        }
        catch (EntryPointNotFoundException)
        {
            return null; // a C library without statx: the mode check alone applies
        }

        return BitConverter.ToUInt32(buffer, 20);
    }

#pragma warning disable SYSLIB1054 // LibraryImport needs unsafe code in the project; these signatures marshal plainly
#pragma warning disable CA2101 // the path is marshalled as UTF-8 explicitly
    [DllImport("libc", SetLastError = true)]
    private static extern int statx(int dirfd, [MarshalAs(UnmanagedType.LPUTF8Str)] string path, int flags, uint mask, byte[] buffer);

    [DllImport("libc")]
    private static extern uint geteuid();
#pragma warning restore CA2101
#pragma warning restore SYSLIB1054
}
