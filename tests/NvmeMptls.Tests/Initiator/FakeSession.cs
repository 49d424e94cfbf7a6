using System.Buffers;
using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using NvmeMptls.Transport.Connections;
using NvmeMptls.Transport.Nvme;
using NvmeMptls.Transport.Pdu;

namespace NvmeMptls.Tests.Initiator;

/// <summary>One queue connection of the <see cref="FakeController"/>: a sequential receive loop, writes under a lock.</summary>
public sealed class FakeSession
{
    private readonly FakeController _fake;
    private readonly MemoryConnection _connection;
    private readonly PduSettings _settings = new() { MaxInCapsuleData = 16384 };
    private readonly PduReader _reader;
    private readonly PduWriter _writer;
    private readonly SemaphoreSlim _writeLock = new(1, 1);
    private readonly byte[] _data = new byte[2 * 1024 * 1024];
    private readonly byte[] _pdu = new byte[256];
    private uint _cc;
    private ushort? _aerCid;
    private readonly PendingWrite[] _pending = new PendingWrite[1024];

    public FakeSession(FakeController fake, MemoryConnection connection)
    {
        _fake = fake;
        _connection = connection;
        _reader = new PduReader(connection.Input, PduRole.Controller, _settings);
        _writer = new PduWriter(connection.Output, _settings);
        _settings.MaxH2CData = fake.MaxH2CData;
    }

    public ushort QueueId { get; private set; }

    public ushort ControllerId { get; private set; }

    public PduSettings Settings => _settings;

    private bool _ended;

    /// <summary>True once the session stopped reading: the host closed or dropped the connection.</summary>
    public bool Ended => Volatile.Read(ref _ended);

    public void Start() => _ = Task.Run(RunAsync);

    public void Drop() => _connection.Abort(new IOException("fake dropped the connection"));

    /// <summary>Sends bytes exactly as given (crafted PDUs).</summary>
    public async Task SendRawAsync(ReadOnlyMemory<byte> bytes)
    {
        await _writeLock.WaitAsync();
        try
        {
            await _connection.Output.WriteAsync(bytes);
        }
        finally
        {
            _writeLock.Release();
        }
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    public async ValueTask RespondAsync(ushort commandId, NvmeStatus status, uint dw0 = 0, uint dw1 = 0)
    {
        await _writeLock.WaitAsync();
        try
        {
            _writer.WriteCapsuleResp(new NvmeCompletion { CommandId = commandId, SqId = QueueId, Status = status, Dw0 = dw0, Dw1 = dw1 });
            await _writer.FlushAsync();
        }
        finally
        {
            _writeLock.Release();
        }
    }

    /// <summary>Sends C2HData as one PDU (optionally with a wrong data digest), then a CapsuleResp unless SUCCESS was used.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    public async ValueTask SendReadDataAsync(ushort commandId, ReadOnlyMemory<byte> data, int chunk, bool success)
    {
        await _writeLock.WaitAsync();
        try
        {
            for (var offset = 0; offset < data.Length; offset += chunk)
            {
                var n = Math.Min(chunk, data.Length - offset);
                var last = offset + n == data.Length;
                var slice = data.Slice(offset, n);
                if (_settings.DataDigest && Interlocked.Decrement(ref _fake.CorruptReadDigests) >= 0)
                {
                    WriteCorruptC2HData(commandId, (uint)offset, slice.Span, last, success && last);
                }
                else
                {
                    _writer.WriteC2HData(new C2HDataPdu(commandId, (uint)offset, (uint)n), slice.Span, last, success && last);
                }
            }

            if (!success)
            {
                _writer.WriteCapsuleResp(new NvmeCompletion { CommandId = commandId, SqId = QueueId });
            }

            await _writer.FlushAsync();
        }
        finally
        {
            _writeLock.Release();
        }
    }

    public async Task CompleteAerAsync(uint dw0)
    {
        if (_aerCid is { } cid)
        {
            _aerCid = null;
            await RespondAsync(cid, NvmeStatus.Success, dw0);
        }
    }

    private async Task RunAsync()
    {
        try
        {
            if (!await _reader.ReadHeaderAsync() || _reader.Common.Type != PduType.ICReq)
            {
                return;
            }

            var req = IcReqPdu.Read(_reader.Header);
            var resp = new IcRespPdu(0, 0, req.HeaderDigest, req.DataDigest, _fake.MaxH2CData);
            resp = _fake.IcRespOverride?.Invoke(resp) ?? resp;
            _settings.HeaderDigest = req.HeaderDigest;
            _settings.DataDigest = req.DataDigest;
            _writer.WriteIcResp(resp);
            await _writer.FlushAsync();
            while (await _reader.ReadHeaderAsync())
            {
                switch (_reader.Common.Type)
                {
                    case PduType.CapsuleCmd:
                        var command = CapsuleCmdPdu.ReadCommand(_reader.Header);
                        var inCapsule = _reader.DataLength;
                        if (inCapsule > 0)
                        {
                            await _reader.ReadDataAsync(_data.AsMemory(0, inCapsule));
                        }

                        if (_fake.OnCommand is null || !await _fake.OnCommand(this, command))
                        {
                            await HandleAsync(command, inCapsule);
                        }

                        break;
                    case PduType.H2CData:
                        await OnH2CDataAsync();
                        break;
                    case PduType.H2CTermReq:
                        var term = H2CTermReqPdu.Read(_reader.Header);
                        _fake.TermReqs.Enqueue((QueueId, term.Fes, term.Fei));
                        await _reader.SkipDataAsync();
                        _connection.Abort();
                        return;
                }
            }
        }
        catch (Exception ex) when (ex is IOException or OperationCanceledException or InvalidOperationException or PduException)
        {
            _fake.Events.Enqueue($"session {QueueId} ended: {ex.Message}");
            _connection.Abort(ex);
        }
        finally
        {
            Volatile.Write(ref _ended, true);
        }
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask HandleAsync(NvmeCommand c, int inCapsule)
    {
        if (c.Opcode == FabricsOpcodes.Fabrics)
        {
            await HandleFabricsAsync(c);
            return;
        }

        if (QueueId == 0)
        {
            await HandleAdminAsync(c);
            return;
        }

        var lba = c.Cdw10 | ((ulong)c.Cdw11 << 32);
        var bytes = (int)((c.Cdw12 & 0xFFFF) + 1) * FakeController.LbaSize;
        var offset = (int)lba * FakeController.LbaSize;
        switch (c.Opcode)
        {
            case IoOpcodes.Read:
                await SendReadDataAsync(c.CommandId, _fake.Storage.AsMemory(offset, bytes), _fake.C2HChunk, _fake.UseSuccessFlag);
                return;
            case IoOpcodes.Write when c.SglIdentifier == SglDescriptor.InCapsuleIdentifier:
                _data.AsSpan(0, inCapsule).CopyTo(_fake.Storage.AsSpan(offset));
                Interlocked.Increment(ref _fake.WritesExecuted);
                await RespondAsync(c.CommandId, NvmeStatus.Success);
                return;
            case IoOpcodes.Write:
                var pending = _pending[c.CommandId] ??= new PendingWrite();
                pending.Command = c;
                pending.Received = 0;
                pending.Granted = 0;
                if (pending.Buffer.Length < c.SglLength)
                {
                    pending.Buffer = new byte[c.SglLength];
                }

                await SendNextR2TAsync(pending);
                return;
            default:
                await RespondAsync(c.CommandId, NvmeStatus.Success);
                return;
        }
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask SendNextR2TAsync(PendingWrite pending)
    {
        var total = (int)pending.Command.SglLength;
        var n = Math.Min(_fake.R2TChunk, total - pending.Granted);
        await _writeLock.WaitAsync();
        try
        {
            _writer.WriteR2T(new R2TPdu(pending.Command.CommandId, 7, (uint)pending.Granted, (uint)n));
            pending.Granted += n;
            await _writer.FlushAsync();
        }
        finally
        {
            _writeLock.Release();
        }
    }

    private async ValueTask OnH2CDataAsync()
    {
        var pdu = H2CDataPdu.Read(_reader.Header);
        Interlocked.Increment(ref _fake.H2CDataPdus);
        var pending = pdu.CommandId < _pending.Length ? _pending[pdu.CommandId] : null;
        if (pending is null || pdu.DataOffset != pending.Received || pdu.DataLength > _fake.MaxH2CData || pdu.TransferTag != 7)
        {
            throw new IOException($"bad H2CData CCCID {pdu.CommandId} DATAO {pdu.DataOffset} DATAL {pdu.DataLength} TTAG {pdu.TransferTag}");
        }

        await _reader.ReadDataAsync(pending.Buffer.AsMemory(pending.Received, (int)pdu.DataLength));
        pending.Received += (int)pdu.DataLength;
        var last = (_reader.Common.Flags & PduFlags.Last) != 0;
        if (last != (pending.Received == pending.Granted))
        {
            throw new IOException($"LAST_PDU {last} at {pending.Received} of R2T window ending {pending.Granted}");
        }

        if (!last)
        {
            return;
        }

        if (pending.Received < pending.Command.SglLength)
        {
            await SendNextR2TAsync(pending);
            return;
        }

        var lba = pending.Command.Cdw10 | ((ulong)pending.Command.Cdw11 << 32);
        pending.Buffer.AsSpan(0, pending.Received).CopyTo(_fake.Storage.AsSpan((int)lba * FakeController.LbaSize));
        Interlocked.Increment(ref _fake.WritesExecuted);
        await RespondAsync(pending.Command.CommandId, NvmeStatus.Success);
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask HandleFabricsAsync(NvmeCommand c)
    {
        switch (c.FabricsType)
        {
            case FabricsOpcodes.Connect:
                var data = ConnectData.Read(_data.AsSpan(0, ConnectData.Size));
                QueueId = (ushort)(c.Cdw10 >> 16);
                if (data.SubsystemNqn != FakeController.Nqn)
                {
                    await RespondAsync(c.CommandId, NvmeStatus.Make(1, 0x82, dnr: true), 0x10100);
                    return;
                }

                ControllerId = QueueId == 0 ? _fake.AllocateControllerId() : data.ControllerId;
                await RespondAsync(c.CommandId, NvmeStatus.Success, ControllerId);
                return;
            case FabricsOpcodes.PropertyGet:
                ulong value = c.Cdw11 switch
                {
                    PropertyOffsets.Cap => 1023 | (1ul << 37) | (2ul << 24),
                    PropertyOffsets.Vs => 0x00010400,
                    PropertyOffsets.Cc => _cc,
                    PropertyOffsets.Csts => (_cc & 1) | (((_cc >> 14) & 3) != 0 ? 2u << 2 : 0),
                    _ => 0,
                };
                await RespondAsync(c.CommandId, NvmeStatus.Success, (uint)value, (uint)(value >> 32));
                return;
            case FabricsOpcodes.PropertySet:
                _cc = c.Cdw12;
                _fake.Events.Enqueue($"CC 0x{_cc:x}");
                await RespondAsync(c.CommandId, NvmeStatus.Success);
                return;
            default:
                await RespondAsync(c.CommandId, NvmeStatus.Make(0, 0x01, dnr: true));
                return;
        }
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask HandleAdminAsync(NvmeCommand c)
    {
        switch (c.Opcode)
        {
            case AdminOpcodes.Identify:
                var page = new byte[4096];
                switch (c.Cdw10 & 0xFF)
                {
                    case 0x01:
                        new IdentifyController
                        {
                            Serial = "FAKE0001", Model = "fake", Firmware = "1.0", ControllerId = ControllerId, Version = 0x00010400,
                            Oaes = 0x100, ControllerType = IdentifyController.TypeIo, Aerl = 3, Lpa = 7, Elpe = 3, KeepAliveSupport = 10,
                            MaxCmd = 128, NamespaceCount = 1, Vwc = 1, Sgls = 0x100001, SubsystemNqn = FakeController.Nqn,
                            Ioccsz = _fake.Ioccsz, Iorcsz = 1, Msdbd = 1, IeeeOui = 0x0A1B2C,
                        }.Write(page);
                        break;
                    case 0x00 when c.Nsid == 1:
                        new IdentifyNamespace { BlockCount = (ulong)(_fake.Storage.Length / FakeController.LbaSize), Capacity = (ulong)(_fake.Storage.Length / FakeController.LbaSize), LbaDataSizeShift = 9 }.Write(page);
                        break;
                    case 0x02 when c.Nsid < 1:
                        BinaryPrimitives.WriteUInt32LittleEndian(page, 1);
                        break;
                    case 0x03:
                        NamespaceDescriptors.Write(page, new Guid("0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"), new Guid("00112233-4455-6677-8899-aabbccddeeff"));
                        break;
                }

                await SendReadDataAsync(c.CommandId, page, 4096, success: false);
                return;
            case AdminOpcodes.SetFeatures when (c.Cdw10 & 0xFF) == FeatureIds.NumberOfQueues:
                var granted = (uint)(_fake.GrantedQueues - 1);
                await RespondAsync(c.CommandId, NvmeStatus.Success, granted | (granted << 16));
                return;
            case AdminOpcodes.GetLogPage:
                var length = (int)(((c.Cdw10 >> 16) | (c.Cdw11 << 16)) + 1) * 4;
                var log = new byte[length];
                if ((c.Cdw10 & 0xFF) == LogPageIds.ChangedNamespaceList)
                {
                    BinaryPrimitives.WriteUInt32LittleEndian(log, 1);
                }

                await SendReadDataAsync(c.CommandId, log, length, success: false);
                return;
            case AdminOpcodes.AsyncEventRequest:
                _aerCid = c.CommandId;
                _fake.Events.Enqueue("aer");
                return;
            case AdminOpcodes.KeepAlive:
                Interlocked.Increment(ref _fake.KeepAlives);
                await RespondAsync(c.CommandId, NvmeStatus.Success);
                return;
            default:
                await RespondAsync(c.CommandId, NvmeStatus.Success);
                return;
        }
    }

    private void WriteCorruptC2HData(ushort commandId, uint offset, ReadOnlySpan<byte> data, bool last, bool success)
    {
        var hd = _settings.HeaderDigestLength;
        var pdo = 24 + hd;
        var flags = PduFlags.DataDigest | (_settings.HeaderDigest ? PduFlags.HeaderDigest : 0) | (last ? PduFlags.Last : 0) | (success ? PduFlags.Success : 0);
        var header = _pdu.AsSpan(0, pdo);
        new C2HDataPdu(commandId, offset, (uint)data.Length).WriteHeader(header, flags, (byte)pdo, (uint)(pdo + data.Length + 4));
        if (hd != 0)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(header[24..], Crc32C.Compute(header[..24]));
        }

        _connection.Output.Write(header);
        _connection.Output.Write(data);
        Span<byte> digest = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(digest, ~Crc32C.Compute(data));
        _connection.Output.Write(digest);
    }

    private sealed class PendingWrite
    {
        public NvmeCommand Command;
        public byte[] Buffer = [];
        public int Received;
        public int Granted;
    }
}
