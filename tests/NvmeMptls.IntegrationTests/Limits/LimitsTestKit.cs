using System.Collections.Immutable;
using System.Net.Sockets;
using Microsoft.Extensions.Logging.Abstractions;
using NvmeMptls.Target.Configuration;
using NvmeMptls.Target.Hosting;
using NvmeMptls.Target.Server;
using NvmeMptls.TestKit;

namespace NvmeMptls.IntegrationTests.Limits;

/// <summary>What the abuse tests share: the TLS step of a port with one configured key, and a raw peer socket.</summary>
internal static class LimitsTestKit
{
    internal const string Key = "NVMeTLSkey-1:01:VRLbtnN9AQb2WXW3c9+wEf/DRLz0QuLdbYvEhwtdWwNf9LrZ:";

    /// <summary>The TLS step for a TLS port (null for a plain one), owned by the server it is given to.</summary>
    public static ConnectionSecurity? Security(TlsMode tls) => tls == TlsMode.None ? null : TargetSecurity.Create(
        TargetOptions.Default with { Tls = new TlsOptions { Keys = ImmutableArray.Create(new TlsKeyOptions { Key = Key }) } },
        NullLoggerFactory.Instance, new TlsHandshakeCounters());

    /// <summary>A raw TCP peer connected to the target, Nagle off so each send is its own segment.</summary>
    public static async Task<Socket> ConnectAsync(LoopbackTarget target)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        await socket.ConnectAsync(target.EndPoint);
        return socket;
    }
}
