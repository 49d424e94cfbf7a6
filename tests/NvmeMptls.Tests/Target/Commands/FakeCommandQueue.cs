using System.Net;
using Microsoft.Extensions.Logging.Abstractions;
using NvmeMptls.Target.Commands;
using NvmeMptls.Target.Namespaces;
using NvmeMptls.Target.Server;
using NvmeMptls.Target.Subsystems;
using NvmeMptls.Transport.Nvme;
using NvmeMptls.Transport.Tls;

namespace NvmeMptls.Tests.Target.Commands;

/// <summary>The command layer's view of a queue, with no socket and no PDUs: completions are collected in order.</summary>
internal sealed class FakeCommandQueue : ICommandQueue
{
    public const string SubsystemNqn = "nqn.2026-01.io.nvmemptls:commands";

    public TargetPortInfo Port { get; } = new(1, "127.0.0.1", 4420, PortTlsMode.None);

    public EndPoint? LocalEndPoint { get; } = new IPEndPoint(IPAddress.Loopback, 4420);

    public EndPoint? RemoteEndPoint { get; } = new IPEndPoint(IPAddress.Loopback, 50000);

    public TlsSessionInfo? Tls => null;

    public List<CommandContext> Sent { get; } = [];

    public (ushort Qid, int SqSize, bool FlowControlDisabled)? Connected { get; private set; }

    public ConnectionEndReason? Aborted { get; private set; }

    public void OnConnected(ushort qid, int sqSize, bool sqFlowControlDisabled) => Connected = (qid, sqSize, sqFlowControlDisabled);

    public void Send(CommandContext ctx) => Sent.Add(ctx);

    public Task AbortAsync(ConnectionEndReason reason, string detail)
    {
        Aborted ??= reason;
        return Task.CompletedTask;
    }

    /// <summary>A registry with one subsystem and a 1 MiB memory namespace (2048 blocks of 512 bytes).</summary>
    public static TargetRegistry Registry()
    {
        var registry = new TargetRegistry(new TargetLimits());
        var subsystem = new Subsystem(SubsystemNqn, "SN", "MN", isDiscovery: false, HostAccess.Any);
        subsystem.AddNamespace(new TargetNamespace(1, new MemoryBlockDevice(1 << 20, 512), Guid.NewGuid(), Guid.NewGuid(), readOnly: false));
        registry.AddSubsystem(subsystem);
        return registry;
    }

    public static CommandExecutor Executor(TargetRegistry registry, out FakeCommandQueue queue)
    {
        queue = new FakeCommandQueue();
        return new CommandExecutor(queue, registry, NullLogger.Instance);
    }

    /// <summary>
    /// What the transport does with a capsule: takes a slot and rents the buffer for <paramref name="length"/> bytes
    /// (default: the in-capsule data, copied in); <paramref name="dataFollows"/>: the rest would come by R2T.
    /// </summary>
    public static CommandContext Arrive(CommandExecutor executor, in NvmeCommand command, ReadOnlySpan<byte> inCapsule = default, int length = -1, bool dataFollows = false)
    {
        var ctx = new CommandContext(executor, 0);
        ctx.Start(command, 0);
        ctx.RentBuffer(length < 0 ? inCapsule.Length : length, dataFollows);
        if (inCapsule.Length > 0)
        {
            inCapsule.CopyTo(ctx.NextData(inCapsule.Length).Span);
            ctx.DataArrived(inCapsule.Length, digestOk: true);
        }

        return ctx;
    }

    /// <summary>Admits and, when admitted, executes: the transport's two calls into the command layer.</summary>
    public static NvmeStatus Submit(CommandExecutor executor, CommandContext ctx)
    {
        var admitted = executor.Admit(ctx);
        if (!admitted.IsSuccess)
        {
            return admitted;
        }

        executor.Execute(ctx);
        return NvmeStatus.Success;
    }

    public static NvmeCommand Connect(ushort qid, ushort sqsize) => new()
    {
        Opcode = FabricsOpcodes.Fabrics,
        Flags = NvmeCommand.PsdtSgl,
        Nsid = FabricsOpcodes.Connect,
        Cdw10 = (uint)qid << 16,
        Cdw11 = sqsize,
        SglIdentifier = SglDescriptor.InCapsuleIdentifier,
        SglLength = ConnectData.Size,
    };

    public static byte[] ConnectPayload(string subsystemNqn, ushort controllerId = 0xFFFF)
    {
        var data = new byte[ConnectData.Size];
        new ConnectData(Guid.NewGuid(), controllerId, subsystemNqn, "nqn.2014-08.org.nvmexpress:uuid:commands-test").Write(data);
        return data;
    }

    public static NvmeCommand Io(byte opcode, ulong slba, ushort nlb0, uint length) => new()
    {
        Opcode = opcode,
        Flags = NvmeCommand.PsdtSgl,
        Nsid = 1,
        Cdw10 = (uint)slba,
        Cdw11 = (uint)(slba >> 32),
        Cdw12 = nlb0,
        SglIdentifier = SglDescriptor.TransportIdentifier,
        SglLength = length,
    };
}
