using System.Net.Sockets;

namespace NvmeMptls.Transport.Sockets;

/// <summary>
/// Runs short synchronous code (socket creation) inside a named network namespace
/// (<c>/var/run/netns/NAME</c>, as made by <c>ip netns add</c>). A socket keeps the namespace it was
/// created in, so bind, connect, accept and I/O may then happen on any thread.
/// </summary>
public static partial class NetNs
{
    public const string RunDirectory = "/var/run/netns";

    /// <summary>True when a namespace of that name exists (always false off Linux).</summary>
    public static bool Exists(string name)
        => OperatingSystem.IsLinux() && IsValidName(name) && File.Exists(Path.Combine(RunDirectory, name));

    /// <summary>
    /// Runs <paramref name="action"/> on the calling thread switched into namespace <paramref name="name"/>
    /// and switches back before returning; null or empty runs it where we are. The action must not await.
    /// </summary>
    public static T Run<T>(string? name, Func<T> action)
    {
        if (string.IsNullOrEmpty(name))
            return action();
        if (!IsValidName(name))
            throw new ArgumentException($"'{name}' is not a network namespace name (no '/', not '.' or '..')", nameof(name));
        if (!OperatingSystem.IsLinux())
            throw new PlatformNotSupportedException("network namespaces exist only on Linux");
        return RunLinux(name, action);
    }

    /// <summary>Creates a socket inside namespace <paramref name="name"/> (or here when null).</summary>
    public static Socket CreateSocket(string? name, AddressFamily family, SocketType type, ProtocolType protocol)
        => Run(name, () => new Socket(family, type, protocol));

    private static bool IsValidName(string name)
        => name.Length > 0 && name != "." && name != ".." && !name.Contains('/') && !name.Contains('\0');
}
