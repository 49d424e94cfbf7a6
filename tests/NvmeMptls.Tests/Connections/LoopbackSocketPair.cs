using System.Net;
using System.Net.Sockets;

namespace NvmeMptls.Tests.Connections;

/// <summary>Two connected TCP sockets over 127.0.0.1: a client (Nagle off) and the listener's accepted end.</summary>
internal static class LoopbackSocketPair
{
    public static async Task<(Socket Client, Socket Accepted)> ConnectAsync()
    {
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen(1);
        var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        await client.ConnectAsync(listener.LocalEndPoint!);
        return (client, await listener.AcceptAsync());
    }
}
