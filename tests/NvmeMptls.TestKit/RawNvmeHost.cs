using System.Buffers;
using System.Buffers.Binary;
using System.IO.Pipelines;
using NvmeMptls.Transport.Connections;
using NvmeMptls.Transport.Nvme;
using NvmeMptls.Transport.Pdu;

namespace NvmeMptls.TestKit;

/// <summary>
/// A deliberately simple NVMe/TCP host for tests: one command at a time, explicit PDUs, and raw byte access so a
/// test can send anything (including malformed PDUs) and read exactly what the target answers.
/// </summary>
public sealed class RawNvmeHost : IAsyncDisposable
{
    public const string HostNqn = "nqn.2014-08.org.nvmexpress:uuid:11111111-2222-3333-4444-555555555555";

    private readonly StreamConnection _connection;
    private readonly PduSettings _settings = new() { MaxC2HData = 4 * 1024 * 1024 };
    private ushort _nextCid = 1;

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

    public async Task<NvmeCompletion> ConnectAsync(string subnqn, ushort qid, ushort sqsize, ushort cntlid = 0xFFFF, string hostNqn = HostNqn, uint katoMs = 0)
    {
        var data = new byte[ConnectData.Size];
        new ConnectData(Guid.Parse("11111111-2222-3333-4444-555555555555"), cntlid, subnqn, hostNqn).Write(data);
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
        if (cqe.Status.IsSuccess && qid == 0)
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
        var set = await PropertySetAsync(PropertyOffsets.Cc, (6u << 16) | (4u << 20) | 1);
        Assert.That(set.Status.IsSuccess, Is.True);
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

    /// <summary>Sends a command (in-capsule data when <paramref name="inCapsule"/>, else R2T for writes) and waits for its completion.</summary>
    public async Task<NvmeCompletion> ExecuteAsync(NvmeCommand cmd, ReadOnlyMemory<byte> writeData, Memory<byte>? readBuffer, bool inCapsule = true)
    {
        cmd.CommandId = _nextCid++;
        if (_nextCid == 0xFFFF)
        {
            _nextCid = 1;
        }

        if (!writeData.IsEmpty && inCapsule)
        {
            cmd.SglIdentifier = SglDescriptor.InCapsuleIdentifier;
            cmd.SglLength = (uint)writeData.Length;
            Writer.WriteCapsuleCmd(cmd, writeData.Span);
        }
        else
        {
            if (!writeData.IsEmpty)
            {
                cmd.SglLength = (uint)writeData.Length;
            }

            Writer.WriteCapsuleCmd(cmd, default);
        }

        await Writer.FlushAsync();
        var received = 0;
        while (true)
        {
            if (!await Reader.ReadHeaderAsync())
            {
                throw new EndOfStreamException("target closed the connection");
            }

            switch (Reader.Common.Type)
            {
                case PduType.CapsuleResp:
                    return CapsuleRespPdu.ReadCompletion(Reader.Header);
                case PduType.C2HData:
                    var c2h = C2HDataPdu.Read(Reader.Header);
                    Assert.That(readBuffer, Is.Not.Null, "unexpected C2HData");
                    Assert.That(c2h.DataOffset, Is.EqualTo((uint)received));
                    Assert.That(await Reader.ReadDataAsync(readBuffer!.Value.Slice(received, Reader.DataLength)), Is.True, "C2H data digest");
                    received += (int)c2h.DataLength;
                    if ((Reader.Common.Flags & PduFlags.Success) != 0)
                    {
                        return new NvmeCompletion { CommandId = cmd.CommandId };
                    }

                    break;
                case PduType.R2T:
                    var r2t = R2TPdu.Read(Reader.Header);
                    var offset = (int)r2t.Offset;
                    var end = offset + (int)r2t.Length;
                    while (offset < end)
                    {
                        var n = Math.Min(end - offset, (int)_settings.MaxH2CData);
                        Writer.WriteH2CData(new H2CDataPdu(r2t.CommandId, r2t.TransferTag, (uint)offset, (uint)n), writeData.Span.Slice(offset, n), last: offset + n == end);
                        offset += n;
                    }

                    await Writer.FlushAsync();
                    break;
                case PduType.C2HTermReq:
                    var term = C2HTermReqPdu.Read(Reader.Header);
                    await Reader.SkipDataAsync();
                    throw new TermReqReceivedException(term.Fes, term.Fei);
                default:
                    throw new InvalidOperationException($"unexpected {Reader.Common.Type}");
            }
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

    public async ValueTask DisposeAsync() => await _connection.DisposeAsync();
}
