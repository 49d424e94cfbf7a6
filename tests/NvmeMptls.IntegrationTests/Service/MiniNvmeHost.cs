using System.Collections.Concurrent;
using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using NvmeMptls.Transport.Nvme;
using NvmeMptls.Transport.Pdu;

namespace NvmeMptls.IntegrationTests.Service;

/// <summary>The outcome of one command as the host saw it.</summary>
public readonly record struct HostCompletion(NvmeStatus Status, uint Dw0, byte[]? Data);

/// <summary>
/// A minimal NVMe/TCP host queue for driving the target in tests, built on the project's PDU reader and writer:
/// ICReq, Fabrics Connect, property set, admin and I/O commands with in-capsule write data and C2HData reads.
/// One instance is one queue (one TCP connection); commands may be pipelined from several tasks.
/// </summary>
public sealed class MiniNvmeHost : IAsyncDisposable
{
    public const string HostNqn = "nqn.2014-08.org.nvmexpress:uuid:5b7a0b6e-2f3c-4a8e-9d61-0c2f1e4d7a90";
    public static readonly Guid HostId = Guid.Parse("5b7a0b6e-2f3c-4a8e-9d61-0c2f1e4d7a90");

    private readonly TcpClient _client;
    private readonly PduReader _reader;
    private readonly PduWriter _writer;
    private readonly SemaphoreSlim _sendLock = new(1, 1);
    private readonly ConcurrentDictionary<ushort, Pending> _pending = new();
    private readonly Task _receiveLoop;
    private readonly CancellationTokenSource _cts = new();
    private int _nextCid;

    private MiniNvmeHost(TcpClient client, PduReader reader, PduWriter writer)
    {
        _client = client;
        _reader = reader;
        _writer = writer;
        _receiveLoop = Task.Run(ReceiveLoopAsync);
    }

    public ushort ControllerId { get; private set; }

    /// <summary>Set when the connection failed; every outstanding and later command fails with it.</summary>
    public Exception? Fault { get; private set; }

    /// <summary>Connects a queue: qid 0 creates a controller (and enables it), qid ≥ 1 joins <paramref name="controllerId"/>.</summary>
    public static async Task<MiniNvmeHost> ConnectAsync(IPEndPoint endPoint, string subsystemNqn, ushort qid, ushort controllerId = 0xFFFF, uint kato = 0)
    {
        var client = new TcpClient(endPoint.AddressFamily) { NoDelay = true };
        await client.ConnectAsync(endPoint).ConfigureAwait(false);
        var stream = client.GetStream();
        var settings = new PduSettings();
        var reader = new PduReader(PipeReader.Create(stream), PduRole.Host, settings);
        var writer = new PduWriter(PipeWriter.Create(stream), settings);
        writer.WriteIcReq(new IcReqPdu(0, 0, false, false, 0));
        await writer.FlushAsync().ConfigureAwait(false);
        if (!await reader.ReadHeaderAsync().ConfigureAwait(false) || reader.Common.Type != PduType.ICResp)
        {
            client.Dispose();
            throw new IOException("no ICResp");
        }

        var icresp = IcRespPdu.Read(reader.Header);
        settings.MaxH2CData = icresp.MaxH2CData;
        var host = new MiniNvmeHost(client, reader, writer);
        var data = new byte[ConnectData.Size];
        new ConnectData(HostId, controllerId, subsystemNqn, HostNqn).Write(data);
        var connect = new NvmeCommand
        {
            Opcode = FabricsOpcodes.Fabrics,
            Nsid = FabricsOpcodes.Connect,
            Cdw10 = (uint)qid << 16,
            Cdw11 = 31,
            Cdw12 = kato,
        };
        var done = await host.SubmitAsync(connect, data, 0).ConfigureAwait(false);
        if (!done.Status.IsSuccess)
        {
            await host.DisposeAsync().ConfigureAwait(false);
            throw new NvmeStatusException(done.Status, "Connect");
        }

        host.ControllerId = (ushort)done.Dw0;
        if (qid == 0)
        {
            // CC: EN=1, IOSQES=6, IOCQES=4.
            var cc = new NvmeCommand { Opcode = FabricsOpcodes.Fabrics, Nsid = FabricsOpcodes.PropertySet, Cdw11 = PropertyOffsets.Cc, Cdw12 = 1u | (6u << 16) | (4u << 20) };
            var enabled = await host.SubmitAsync(cc, default, 0).ConfigureAwait(false);
            if (!enabled.Status.IsSuccess)
            {
                throw new NvmeStatusException(enabled.Status, "Property Set CC");
            }
        }

        return host;
    }

    public Task<HostCompletion> WriteAsync(uint nsid, ulong slba, ReadOnlyMemory<byte> data, int lbaSize = 512) =>
        SubmitAsync(IoCommand(IoOpcodes.Write, nsid, slba, data.Length / lbaSize), data, 0);

    public Task<HostCompletion> ReadAsync(uint nsid, ulong slba, int length, int lbaSize = 512) =>
        SubmitAsync(IoCommand(IoOpcodes.Read, nsid, slba, length / lbaSize), default, length);

    public Task<HostCompletion> FlushAsync(uint nsid) => SubmitAsync(new NvmeCommand { Opcode = IoOpcodes.Flush, Nsid = nsid }, default, 0);

    public Task<HostCompletion> SetFeatureAsync(byte fid, uint value) =>
        SubmitAsync(new NvmeCommand { Opcode = AdminOpcodes.SetFeatures, Cdw10 = fid, Cdw11 = value }, default, 0);

    public Task<HostCompletion> AsyncEventRequestAsync() => SubmitAsync(new NvmeCommand { Opcode = AdminOpcodes.AsyncEventRequest }, default, 0);

    public Task<HostCompletion> GetLogPageAsync(byte lid, int length, bool retainAsyncEvent = false) =>
        SubmitAsync(new NvmeCommand
        {
            Opcode = AdminOpcodes.GetLogPage,
            Nsid = 0xFFFFFFFF,
            Cdw10 = lid | (retainAsyncEvent ? 1u << 15 : 0) | ((uint)((length / 4) - 1) << 16),
        }, default, length);

    private static NvmeCommand IoCommand(byte opcode, uint nsid, ulong slba, int blocks) => new()
    {
        Opcode = opcode,
        Nsid = nsid,
        Cdw10 = (uint)slba,
        Cdw11 = (uint)(slba >> 32),
        Cdw12 = (uint)(blocks - 1),
    };

    /// <summary>Sends one command: write data in-capsule, or <paramref name="readLength"/> bytes expected back.</summary>
    public async Task<HostCompletion> SubmitAsync(NvmeCommand command, ReadOnlyMemory<byte> inCapsule, int readLength)
    {
        var cid = (ushort)(Interlocked.Increment(ref _nextCid) & 0x7FFF);
        var pending = new Pending(readLength > 0 ? new byte[readLength] : null);
        if (!_pending.TryAdd(cid, pending))
        {
            throw new InvalidOperationException($"command id {cid} still outstanding");
        }

        command.CommandId = cid;
        command.Flags = NvmeCommand.PsdtSgl;
        if (!inCapsule.IsEmpty)
        {
            command.SglIdentifier = SglDescriptor.InCapsuleIdentifier;
            command.SglLength = (uint)inCapsule.Length;
        }
        else
        {
            command.SglIdentifier = SglDescriptor.TransportIdentifier;
            command.SglLength = (uint)readLength;
        }

        await _sendLock.WaitAsync().ConfigureAwait(false);
        try
        {
            if (Fault is { } fault)
            {
                _pending.TryRemove(cid, out _);
                throw new IOException("connection failed", fault);
            }

            _writer.WriteCapsuleCmd(command, inCapsule.Span);
            await _writer.FlushAsync().ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or SocketException or ObjectDisposedException or InvalidOperationException)
        {
            _pending.TryRemove(cid, out _);
            pending.Done.TrySetException(ex);
        }
        finally
        {
            _sendLock.Release();
        }

        return await pending.Done.Task.ConfigureAwait(false);
    }

    private async Task ReceiveLoopAsync()
    {
        try
        {
            while (await _reader.ReadHeaderAsync(_cts.Token).ConfigureAwait(false))
            {
                switch (_reader.Common.Type)
                {
                    case PduType.CapsuleResp:
                        var cqe = CapsuleRespPdu.ReadCompletion(_reader.Header);
                        if (_pending.TryRemove(cqe.CommandId, out var p))
                        {
                            p.Done.TrySetResult(new HostCompletion(cqe.Status, cqe.Dw0, p.Buffer));
                        }

                        break;
                    case PduType.C2HData:
                        var c2h = C2HDataPdu.Read(_reader.Header);
                        if (!_pending.TryGetValue(c2h.CommandId, out var target) || target.Buffer is null)
                        {
                            throw new IOException($"C2HData for unknown command {c2h.CommandId}");
                        }

                        await _reader.ReadDataAsync(target.Buffer.AsMemory((int)c2h.DataOffset, (int)c2h.DataLength), _cts.Token).ConfigureAwait(false);
                        if ((_reader.Common.Flags & PduFlags.Success) != 0 && _pending.TryRemove(c2h.CommandId, out var ok))
                        {
                            ok.Done.TrySetResult(new HostCompletion(NvmeStatus.Success, 0, ok.Buffer));
                        }

                        break;
                    default:
                        throw new IOException($"unexpected {_reader.Common.Type} from the controller");
                }
            }

            FailAll(new IOException("the controller closed the connection"));
        }
        catch (Exception ex)
        {
            FailAll(ex);
        }
    }

    private void FailAll(Exception ex)
    {
        Fault ??= ex;
        foreach (var cid in _pending.Keys)
        {
            if (_pending.TryRemove(cid, out var p))
            {
                p.Done.TrySetException(new IOException("connection failed", ex));
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _cts.CancelAsync().ConfigureAwait(false);
        _client.Dispose();
        try
        {
            await _receiveLoop.ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }

        _cts.Dispose();
        _sendLock.Dispose();
    }

    private sealed class Pending(byte[]? buffer)
    {
        public byte[]? Buffer { get; } = buffer;

        public TaskCompletionSource<HostCompletion> Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
