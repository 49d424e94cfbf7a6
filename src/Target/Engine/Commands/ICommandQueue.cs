using System.Net;
using NvmeMptls.Target.Server;
using NvmeMptls.Target.Subsystems;
using NvmeMptls.Transport.Tls;

namespace NvmeMptls.Target.Commands;

/// <summary>
/// What the command layer needs from the queue its commands arrive on: where the queue is, who is on the other end,
/// a way to send a completion and to close. The NVMe/TCP queue implements it; a test can drive the command layer
/// with a fake and no PDUs. The controller keeps its queues as this interface too.
/// </summary>
internal interface ICommandQueue
{
    TargetPortInfo Port { get; }

    EndPoint? LocalEndPoint { get; }

    EndPoint? RemoteEndPoint { get; }

    /// <summary>The TLS session under the queue, or null without TLS (Connect checks the PSK identity's host).</summary>
    TlsSessionInfo? Tls { get; }

    /// <summary>A Connect bound the queue: it becomes submission queue <paramref name="qid"/> of <paramref name="sqSize"/> entries.</summary>
    void OnConnected(ushort qid, int sqSize, bool sqFlowControlDisabled);

    /// <summary>The command's completion is set (state Completing): send it. Called from any thread.</summary>
    void Send(CommandContext ctx);

    /// <summary>Ends the connection from our side: no TermReq, just close.</summary>
    Task AbortAsync(ConnectionEndReason reason, string detail);
}
