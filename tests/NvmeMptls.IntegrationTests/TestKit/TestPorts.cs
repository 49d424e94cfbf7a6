using System.Net;
using System.Net.Sockets;

namespace NvmeMptls.IntegrationTests.TestKit;

/// <summary>
/// Loopback TCP ports for the targets, metrics endpoints and tools the tests start. Two properties that "bind port 0,
/// read the port, close" lacks: a port is handed out at most once per test run (the kernel may return the port it just
/// released, so two calls in a row could give a target the same I/O and discovery port), and the ports lie below the
/// kernel's ephemeral range (32768-60999), so the local port of some other test's outgoing connection cannot take one
/// between the check and the child's bind. The Ceph test cluster uses 23300-27300 and scans up from 23400; this range
/// starts above it.
/// </summary>
public static class TestPorts
{
    private const int First = 28000;
    private const int End = 32700;
    private static int s_cursor = (Environment.ProcessId % 1000) * 4;

    /// <summary>A port in 28000-32699 that 127.0.0.1 can bind now and that this process has not handed out before.</summary>
    public static int Next()
    {
        const int span = End - First;
        for (int tries = 0; tries < span; tries++)
        {
            int port = First + (int)((uint)Interlocked.Increment(ref s_cursor) % span);
            if (CanBind(port))
            {
                return port;
            }
        }

        throw new InvalidOperationException($"no loopback port between {First} and {End} can be bound");
    }

    /// <summary>127.0.0.1 can bind <paramref name="port"/> now (TCP, without SO_REUSEADDR).</summary>
    public static bool CanBind(int port)
    {
        try
        {
            using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            socket.Bind(new IPEndPoint(IPAddress.Loopback, port));
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }
}
