using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Diagnostics.CodeAnalysis;
using System.Net;
using System.Net.Sockets;
using NvmeMptls.Transport.Connections;
using NvmeMptls.Transport.Multipath;
using NvmeMptls.Transport.Nvme;
using NvmeMptls.Transport.Pdu;
using NvmeMptls.Transport.Sockets;

namespace NvmeMptls.TestKit;

/// <summary>The outcome of one command as the host saw it (Data: the bytes read, when the command read any).</summary>
public readonly record struct HostCompletion(NvmeStatus Status, uint Dw0, byte[]? Data);

/// <summary>
/// The one fake NVMe/TCP host queue of the tests, over any connection (in-memory or TCP), built on the project's
/// PDU reader and writer. Two ways to use it:
/// <list type="bullet">
/// <item>raw: explicit PDUs through <see cref="Reader"/>, <see cref="Writer"/> and <see cref="SendRawAsync"/>, so a
/// test can send anything (malformed PDUs included) and read exactly what the target answers;</item>
/// <item>commands: ICReq, Connect, properties, admin and I/O commands with in-capsule or R2T write data and C2HData
/// reads, several at once from several tasks (an AER stays outstanding while others complete).</item>
/// </list>
/// There is no background reader: whoever waits for a completion reads the next PDU for everyone (RawNvmeHost.Receive.cs),
/// so the raw reader is free whenever no command is outstanding.
/// </summary>
public sealed partial class RawNvmeHost : IAsyncDisposable
{
    public const string HostNqn = "nqn.2014-08.org.nvmexpress:uuid:11111111-2222-3333-4444-555555555555";
    public static readonly Guid HostId = Guid.Parse("11111111-2222-3333-4444-555555555555");

    private readonly StreamConnection _connection;
    private readonly PduSettings _settings = new() { MaxC2HData = 4 * 1024 * 1024 };
    private readonly ConcurrentDictionary<ushort, Pending> _pending = new();
    // Not disposed: callers still waiting when the host is disposed release the locks and read the token
    // afterwards; none of the three holds a wait handle or a timer until one is asked for.
    [SuppressMessage("Reliability", "CA2213", Justification = "released and read after DisposeAsync by late callers; no wait handle")]
    private readonly SemaphoreSlim _sendLock = new(1, 1);
    [SuppressMessage("Reliability", "CA2213", Justification = "released and read after DisposeAsync by late callers; no wait handle")]
    private readonly SemaphoreSlim _receiveLock = new(1, 1);
    [SuppressMessage("Reliability", "CA2213", Justification = "released and read after DisposeAsync by late callers; no timer")]
    private readonly CancellationTokenSource _disposed = new();
    private int _nextCid = -1;

    public RawNvmeHost(StreamConnection connection)
    {
        _connection = connection;
        Reader = new PduReader(connection.Input, PduRole.Host, _settings);
        Writer = new PduWriter(connection.Output, _settings);
    }

    public PduReader Reader { get; }
    public PduWriter Writer { get; }
    public PduSettings Settings => _settings;
    public IcRespPdu IcResp { get; private set; }
    public ushort ControllerId { get; private set; }

    /// <summary>Set when the connection failed; every outstanding and later command fails with it.</summary>
    public Exception? Fault { get; private set; }

    /// <summary>
    /// Opens a queue over TCP: ICReq, Connect (SQSIZE 32); qid 0 creates a controller and enables it, qid ≥ 1 joins
    /// <paramref name="controllerId"/>. A refused Connect throws <see cref="NvmeStatusException"/>.
    /// </summary>
    public static async Task<RawNvmeHost> OpenAsync(IPEndPoint endPoint, string subsystemNqn, ushort qid, ushort controllerId = 0xFFFF, uint katoMs = 0,
        Guid? hostId = null, string hostNqn = HostNqn)
    {
        var host = new RawNvmeHost(await StreamConnector.ConnectAsync(endPoint, MultipathPolicy.Disabled).ConfigureAwait(false));
        try
        {
            host.ConnectHostId = hostId ?? HostId;
            await host.InitializeAsync().ConfigureAwait(false);
            var connect = await host.ConnectAsync(subsystemNqn, qid, 31, controllerId, hostNqn, katoMs).ConfigureAwait(false);
            if (!connect.Status.IsSuccess)
            {
                throw new NvmeStatusException(connect.Status, "Connect");
            }

            if (qid == 0)
            {
                await host.EnableAsync().ConfigureAwait(false);
            }

            return host;
        }
        catch
        {
            await host.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    public async Task SendRawAsync(ReadOnlyMemory<byte> bytes)
    {
        await _connection.Output.WriteAsync(bytes);
    }

    public async Task<IcRespPdu> InitializeAsync(bool headerDigest = false, bool dataDigest = false, byte hpda = 0)
    {
        Writer.WriteIcReq(new IcReqPdu(0, hpda, headerDigest, dataDigest, 0));
        await Writer.FlushAsync();
        Assert.That(await Reader.ReadHeaderAsync(), Is.True, "target closed instead of answering ICReq");
        Assert.That(Reader.Common.Type, Is.EqualTo(PduType.ICResp));
        IcResp = IcRespPdu.Read(Reader.Header);
        _settings.HeaderDigest = headerDigest;
        _settings.DataDigest = dataDigest;
        _settings.ReceiveAlignment = hpda;
        _settings.MaxH2CData = IcResp.MaxH2CData;
        return IcResp;
    }

    /// <summary>The HOSTID this host's Connects carry (another host in a test sets its own).</summary>
    public Guid ConnectHostId { get; set; } = HostId;

    public async Task<NvmeCompletion> ConnectAsync(string subnqn, ushort qid, ushort sqsize, ushort cntlid = 0xFFFF, string hostNqn = HostNqn, uint katoMs = 0)
    {
        var data = new byte[ConnectData.Size];
        new ConnectData(ConnectHostId, cntlid, subnqn, hostNqn).Write(data);
        var cmd = new NvmeCommand
        {
            Opcode = FabricsOpcodes.Fabrics,
            Flags = NvmeCommand.PsdtSgl,
            Nsid = FabricsOpcodes.Connect,
            Cdw10 = (uint)qid << 16,
            Cdw11 = sqsize,
            Cdw12 = katoMs,
            SglIdentifier = SglDescriptor.InCapsuleIdentifier,
            SglLength = ConnectData.Size,
        };
        var cqe = await ExecuteAsync(cmd, data, null);
        if (cqe.Status.IsSuccess)
        {
            ControllerId = (ushort)cqe.Dw0;
        }

        return cqe;
    }

    /// <summary>Admin bring-up: connect, CC.EN=1, wait CSTS.RDY.</summary>
    public async Task BringUpAdminAsync(string subnqn)
    {
        await InitializeAsync();
        var c = await ConnectAsync(subnqn, 0, 31);
        Assert.That(c.Status.IsSuccess, Is.True, c.Status.ToString());
        await EnableAsync();
    }

    /// <summary>CC: EN=1, IOSQES=6, IOCQES=4; then CSTS.RDY must be set.</summary>
    public async Task EnableAsync()
    {
        var set = await PropertySetAsync(PropertyOffsets.Cc, (6u << 16) | (4u << 20) | 1);
        Assert.That(set.Status.IsSuccess, Is.True, "Property Set CC: " + set.Status);
        var csts = await PropertyGetAsync(PropertyOffsets.Csts, false);
        Assert.That(csts.Dw0 & 1, Is.EqualTo(1u), "CSTS.RDY");
    }

    public Task<NvmeCompletion> PropertySetAsync(uint offset, uint value) => ExecuteAsync(new NvmeCommand
    {
        Opcode = FabricsOpcodes.Fabrics, Flags = NvmeCommand.PsdtSgl, Nsid = FabricsOpcodes.PropertySet, Cdw11 = offset, Cdw12 = value,
        SglIdentifier = SglDescriptor.TransportIdentifier,
    }, default, null);

    public Task<NvmeCompletion> PropertyGetAsync(uint offset, bool eightBytes) => ExecuteAsync(new NvmeCommand
    {
        Opcode = FabricsOpcodes.Fabrics, Flags = NvmeCommand.PsdtSgl, Nsid = FabricsOpcodes.PropertyGet, Cdw10 = eightBytes ? 1u : 0u, Cdw11 = offset,
        SglIdentifier = SglDescriptor.TransportIdentifier,
    }, default, null);

    public NvmeCommand Command(byte opcode, uint nsid = 0, uint cdw10 = 0, uint cdw11 = 0, uint cdw12 = 0, uint length = 0) => new()
    {
        Opcode = opcode, Flags = NvmeCommand.PsdtSgl, Nsid = nsid, Cdw10 = cdw10, Cdw11 = cdw11, Cdw12 = cdw12,
        SglIdentifier = SglDescriptor.TransportIdentifier, SglLength = length,
    };

    /// <summary>Writes <paramref name="data"/> (whole blocks) in the command capsule.</summary>
    public Task<HostCompletion> WriteAsync(uint nsid, ulong slba, ReadOnlyMemory<byte> data, int lbaSize = 512) =>
        RunAsync(IoCommand(IoOpcodes.Write, nsid, slba, data.Length / lbaSize, 0), data, 0);

    public Task<HostCompletion> ReadAsync(uint nsid, ulong slba, int length, int lbaSize = 512) =>
        RunAsync(IoCommand(IoOpcodes.Read, nsid, slba, length / lbaSize, length), default, length);

    public Task<HostCompletion> FlushAsync(uint nsid) => RunAsync(Command(IoOpcodes.Flush, nsid), default, 0);

    public Task<HostCompletion> SetFeatureAsync(byte fid, uint value) => RunAsync(Command(AdminOpcodes.SetFeatures, cdw10: fid, cdw11: value), default, 0);

    public Task<HostCompletion> AsyncEventRequestAsync() => RunAsync(Command(AdminOpcodes.AsyncEventRequest), default, 0);

    public Task<HostCompletion> GetLogPageAsync(byte lid, int length, bool retainAsyncEvent = false) =>
        RunAsync(Command(AdminOpcodes.GetLogPage, 0xFFFFFFFF, lid | (retainAsyncEvent ? 1u << 15 : 0) | ((uint)((length / 4) - 1) << 16), length: (uint)length), default, length);

    private NvmeCommand IoCommand(byte opcode, uint nsid, ulong slba, int blocks, int readLength) =>
        Command(opcode, nsid, (uint)slba, (uint)(slba >> 32), (uint)(blocks - 1), (uint)readLength);

    private async Task<HostCompletion> RunAsync(NvmeCommand command, ReadOnlyMemory<byte> inCapsule, int readLength)
    {
        var buffer = readLength > 0 ? new byte[readLength] : null;
        var cqe = await ExecuteAsync(command, inCapsule, buffer).ConfigureAwait(false);
        return new HostCompletion(cqe.Status, cqe.Dw0, buffer);
    }

    /// <summary>
    /// Sends a command (write data in-capsule when <paramref name="inCapsule"/>, else by R2T) and waits for its
    /// completion; other commands may be outstanding. A C2HTermReq fails it with <see cref="TermReqReceivedException"/>,
    /// a closed or broken connection with an <see cref="IOException"/>.
    /// </summary>
    public async Task<NvmeCompletion> ExecuteAsync(NvmeCommand cmd, ReadOnlyMemory<byte> writeData, Memory<byte>? readBuffer, bool inCapsule = true)
    {
        var pending = new Pending(writeData, readBuffer);
        do
        {
            cmd.CommandId = (ushort)((Interlocked.Increment(ref _nextCid) % 0xFFFE) + 1);
        }
        while (!_pending.TryAdd(cmd.CommandId, pending));

        if (!writeData.IsEmpty)
        {
            cmd.SglLength = (uint)writeData.Length;
            if (inCapsule)
            {
                cmd.SglIdentifier = SglDescriptor.InCapsuleIdentifier;
            }
        }

        await SendAsync(cmd, writeData, inCapsule).ConfigureAwait(false);
        return await ReceiveUntilDoneAsync(pending).ConfigureAwait(false);
    }

    private async Task SendAsync(NvmeCommand cmd, ReadOnlyMemory<byte> writeData, bool inCapsule)
    {
        await _sendLock.WaitAsync().ConfigureAwait(false);
        try
        {
            if (Fault is { } fault)
            {
                throw new IOException("the connection already failed", fault);
            }

            Writer.WriteCapsuleCmd(cmd, inCapsule ? writeData.Span : default);
            await Writer.FlushAsync().ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or SocketException or ObjectDisposedException or InvalidOperationException)
        {
            _pending.TryRemove(cmd.CommandId, out _);
            throw ex as IOException ?? new IOException("sending the command failed", ex);
        }
        finally
        {
            _sendLock.Release();
        }
    }

    /// <summary>Reads PDUs until a C2HTermReq arrives (returning its FES/FEI and data) or the stream ends (null).</summary>
    public async Task<(TermReqFes Fes, uint Fei, byte[] Data)?> ReadTermReqAsync()
    {
        try
        {
            while (await Reader.ReadHeaderAsync())
            {
                if (Reader.Common.Type == PduType.C2HTermReq)
                {
                    var term = C2HTermReqPdu.Read(Reader.Header);
                    var data = new byte[Reader.DataLength];
                    await Reader.ReadDataAsync(data);
                    return (term.Fes, term.Fei, data);
                }

                await Reader.SkipDataAsync();
            }
        }
        catch (Exception ex) when (ex is IOException or EndOfStreamException or InvalidOperationException)
        {
            return null;
        }

        return null;
    }

    public static byte[] Header(PduType type, byte flags, byte hlen, byte pdo, uint plen, int size)
    {
        var h = new byte[size];
        h[0] = (byte)type;
        h[1] = flags;
        h[2] = hlen;
        h[3] = pdo;
        BinaryPrimitives.WriteUInt32LittleEndian(h.AsSpan(4), plen);
        return h;
    }

    public async ValueTask DisposeAsync()
    {
        if (_disposed.IsCancellationRequested)
        {
            return;
        }

        await _disposed.CancelAsync().ConfigureAwait(false);
        await _connection.DisposeAsync().ConfigureAwait(false);
        FailAll(new ObjectDisposedException(nameof(RawNvmeHost)));
    }
}
