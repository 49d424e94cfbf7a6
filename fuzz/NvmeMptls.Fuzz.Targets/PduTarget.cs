using System.Buffers;
using System.IO.Pipelines;
using NvmeMptls.Transport.Nvme;
using NvmeMptls.Transport.Pdu;

namespace NvmeMptls.Fuzz;

/// <summary>
/// The PDU reader over a pipe, as either end reads: input byte 0 picks the role (bit 0: host), the digests
/// (bits 1, 2) and the receive alignment (bits 3–4); the rest is the stream. Every header is decoded with its
/// type's codec and every body read (or, for every other PDU, skipped).
/// </summary>
public static class PduTarget
{
    public static void Run(byte[] input)
    {
        if (input.Length == 0)
        {
            return;
        }

        var mode = input[0];
        var settings = new PduSettings
        {
            HeaderDigest = (mode & 2) != 0,
            DataDigest = (mode & 4) != 0,
            ReceiveAlignment = (byte)((mode >> 3) & 3),
            MaxInCapsuleData = 8192,
            MaxH2CData = 64 * 1024,
            MaxC2HData = 64 * 1024,
        };
        var pipe = new Pipe();
        pipe.Writer.Write(input.AsSpan(1));
        pipe.Writer.Complete();
        var role = (mode & 1) != 0 ? PduRole.Host : PduRole.Controller;
        FuzzTargets.Await(ReadAllAsync(new PduReader(pipe.Reader, role, settings)), "PDU reader");
    }

    private static async Task ReadAllAsync(PduReader reader)
    {
        var data = new byte[64 * 1024];
        try
        {
            while (await reader.ReadHeaderAsync().ConfigureAwait(false))
            {
                Decode(reader.Common.Type, reader.Header);
                if (reader.PdusRead % 2 == 0)
                {
                    await reader.SkipDataAsync().ConfigureAwait(false);
                }
                else
                {
                    await reader.ReadDataAsync(data.AsMemory(0, reader.DataLength)).ConfigureAwait(false);
                }
            }
        }
        catch (PduException)
        {
        }
        catch (EndOfStreamException)
        {
        }
    }

    private static void Decode(PduType type, ReadOnlySpan<byte> header)
    {
        switch (type)
        {
            case PduType.ICReq:
                _ = IcReqPdu.Read(header);
                break;
            case PduType.ICResp:
                _ = IcRespPdu.Read(header);
                break;
            case PduType.H2CTermReq:
                _ = H2CTermReqPdu.Read(header);
                break;
            case PduType.C2HTermReq:
                _ = C2HTermReqPdu.Read(header);
                break;
            case PduType.CapsuleCmd:
                var command = CapsuleCmdPdu.ReadCommand(header);
                if (command.Opcode == 0x7F)
                {
                    _ = ConnectCommand.Read(command);
                }

                break;
            case PduType.CapsuleResp:
                _ = CapsuleRespPdu.ReadCompletion(header);
                break;
            case PduType.H2CData:
                _ = H2CDataPdu.Read(header);
                break;
            case PduType.C2HData:
                _ = C2HDataPdu.Read(header);
                break;
            case PduType.R2T:
                _ = R2TPdu.Read(header);
                break;
        }
    }
}
