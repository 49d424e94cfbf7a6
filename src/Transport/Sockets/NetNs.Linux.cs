using System.Runtime.InteropServices;
using NvmeMptls.Transport.Multipath;

namespace NvmeMptls.Transport.Sockets;

public static partial class NetNs
{
    // setns acts on the calling thread only: the thread's own namespace is the one to come back to.
    private const string CurrentThreadNetNs = "/proc/thread-self/ns/net";

    private static T RunLinux<T>(string name, Func<T> action)
    {
        int original = OpenOrThrow(CurrentThreadNetNs);
        try
        {
            int target = OpenOrThrow(Path.Combine(RunDirectory, name));
            try
            {
                if (LinuxNative.SetNs(target, LinuxNative.CLONE_NEWNET) != 0)
                    throw new IOException($"setns into network namespace '{name}' failed: {LinuxNative.ErrorText(Marshal.GetLastPInvokeError())}");
            }
            finally
            {
                LinuxNative.Close(target);
            }
            try
            {
                return action();
            }
            finally
            {
                if (LinuxNative.SetNs(original, LinuxNative.CLONE_NEWNET) != 0)
                {
                    // A pool thread left in a foreign namespace would create later sockets there: no way to go on.
                    Environment.FailFast($"setns back from network namespace '{name}' failed: {LinuxNative.ErrorText(Marshal.GetLastPInvokeError())}");
                }
            }
        }
        finally
        {
            LinuxNative.Close(original);
        }
    }

    private static int OpenOrThrow(string path)
    {
        int fd = LinuxNative.Open(path, LinuxNative.O_RDONLY | LinuxNative.O_CLOEXEC);
        if (fd < 0)
            throw new IOException($"cannot open {path}: {LinuxNative.ErrorText(Marshal.GetLastPInvokeError())}");
        return fd;
    }
}
