using System.Buffers;
using System.Buffers.Binary;
using System.IO.Pipelines;
using System.Text;
using NvmeMptls.Crypto.Handshake;
using NvmeMptls.Crypto.Psk;
using NvmeMptls.Transport.Connections;
using NvmeMptls.Transport.Nvme;
using NvmeMptls.Transport.Pdu;

namespace NvmeMptls.Fuzz;

/// <summary>
/// Small valid inputs for each target, built with the product's own writers so they stay valid as the code
/// changes: <c>NvmeMptls.Fuzz seeds fuzz/corpus</c> regenerates fuzz/corpus/TARGET/seed-*.
/// </summary>
public static class SeedCorpus
{
    public static void WriteAll(string directory)
    {
        foreach (var (target, name, bytes) in All())
        {
            var folder = Path.Combine(directory, target);
            Directory.CreateDirectory(folder);
            File.WriteAllBytes(Path.Combine(folder, "seed-" + name), bytes);
        }
    }

    public static IEnumerable<(string Target, string Name, byte[] Bytes)> All()
    {
        yield return ("pdu", "controller-icreq-connect", [0x00, .. HostStream(new PduSettings(), admin: false)]);
        yield return ("pdu", "controller-digests", [0x06, .. HostStream(new PduSettings { HeaderDigest = true, DataDigest = true }, admin: false, icReq: false)]);
        yield return ("pdu", "host-icresp-data", [0x01, .. ControllerStream()]);
        yield return ("target-queue", "icreq-connect-admin", HostStream(new PduSettings(), admin: true));
        yield return ("initiator-buffers", "identify-controller", [0, .. IdentifyControllerPage()]);
        yield return ("initiator-buffers", "identify-namespace", [1, .. IdentifyNamespacePage()]);
        yield return ("initiator-buffers", "ns-descriptors", [2, .. DescriptorPage()]);
        yield return ("initiator-buffers", "nsid-list", [3, 1, 0, 0, 0, 2, 0, 0, 0]);
        yield return ("initiator-buffers", "discovery-log", [4, .. DiscoveryPage()]);
        yield return ("initiator-buffers", "ana-log", [5, .. new AnaLogPage(2, [new AnaGroupDescriptor(1, 1, AnaState.Optimized, [1u]), new AnaGroupDescriptor(2, 2, AnaState.Inaccessible, [])]).ToArray(groupsOnly: false)]);
        var clientHello = ClientHello();
        yield return ("client-hello", "nvme-psk-client-hello", clientHello);
        yield return ("tls-accept", "nvme-psk-client-hello", clientHello);
        yield return ("tls-record", "raw-alert", [0x00, 0x15, 0x03, 0x03, 0x00, 0x02, 0x01, 0x00]);
        yield return ("tls-record", "sealed-data-keyupdate", [0x03, 0x17, 0x00, 0x04, .. "data"u8, 0x16, 0x00, 0x05, 0x18, 0x00, 0x00, 0x01, 0x01, 0x17, 0x00, 0x02, .. "ok"u8]);
        yield return ("nbd", "go-write-read", NbdSession());
        yield return ("config", "one-subsystem", Encoding.UTF8.GetBytes(ConfigJson));
        yield return ("psk", "interchange", [0, .. Encoding.UTF8.GetBytes(TlsAcceptTarget.Key)]);
        yield return ("psk", "identity", [1, .. "NVMe1R01 nqn.psk-test-host nqn.psk-test-subsys iSbjiStwJ/1TrTvDlt2fjFmzvsytOJelidNnA+X5lEU="u8]);
        yield return ("psk", "lookup", [2, .. "NVMe0R01 nqn.psk-test-host nqn.psk-test-subsys"u8]);
        yield return ("chap-secret", "untransformed-32", [0, .. "DHHC-1:00:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh+KfiaR:"u8]);
        yield return ("chap-secret", "sha256-32", [0, .. "DHHC-1:01:jWiK0NeSweQjGFEI9c4bjHV792NxG/KQG1mAfCQAiRlmCljm:"u8]);
        foreach (var seed in ReservationSeeds.All())
        {
            yield return seed;
        }

        yield return ("chap-secret", "config-secret", [1, .. "DHHC-1:00:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh+KfiaR:"u8]);
    }

    private const string ConfigJson = """
        {
          "Target": {
            "Subsystems": [ { "Nqn": "nqn.2026-01.io.nvmemptls:fuzz", "AllowAnyHost": true,
                              "Namespaces": [ { "Nsid": 1, "Backing": "memory", "Size": "16MiB" } ] } ],
            "Ports": [ { "Address": "127.0.0.1", "Port": 4420 } ],
            "Limits": { "MaxQueueDepth": 128 },
            "KeepAlive": { "DiscoveryDefaultTimeout": "00:02:00" }
          }
        }
        """;

    /// <summary>What a host sends: ICReq, admin Connect with its data, Identify Controller, Property Get CAP, Keep Alive, a write with in-capsule data.</summary>
    private static byte[] HostStream(PduSettings settings, bool admin, bool icReq = true) => Write(settings, writer =>
    {
        if (icReq)
        {
            writer.WriteIcReq(new IcReqPdu(0, 0, settings.HeaderDigest, settings.DataDigest, 0));
        }

        var connect = new byte[ConnectData.Size];
        new ConnectData(Guid.Parse("11111111-2222-3333-4444-555555555555"), ConnectData.DynamicControllerId, TargetQueueTarget.SubsystemNqn,
            "nqn.2014-08.org.nvmexpress:uuid:11111111-2222-3333-4444-555555555555").Write(connect);
        writer.WriteCapsuleCmd(new NvmeCommand
        {
            Opcode = FabricsOpcodes.Fabrics, Flags = NvmeCommand.PsdtSgl, CommandId = 1, Nsid = FabricsOpcodes.Connect,
            Cdw11 = 31, Cdw12 = 0, SglIdentifier = SglDescriptor.InCapsuleIdentifier, SglLength = ConnectData.Size,
        }, connect);
        if (!admin)
        {
            writer.WriteH2CData(new H2CDataPdu(2, 0, 0, 512), new byte[512], last: true);
            return;
        }

        writer.WriteCapsuleCmd(new NvmeCommand
        {
            Opcode = FabricsOpcodes.Fabrics, Flags = NvmeCommand.PsdtSgl, CommandId = 2, Nsid = FabricsOpcodes.PropertyGet,
            Cdw10 = 1, Cdw11 = 0, SglIdentifier = SglDescriptor.TransportIdentifier,
        }, []);
        var identify = IdentifyCns.Command(IdentifyCns.Controller, 0);
        identify.CommandId = 3;
        writer.WriteCapsuleCmd(identify, []);
        writer.WriteCapsuleCmd(new NvmeCommand { Opcode = AdminOpcodes.KeepAlive, CommandId = 4, Flags = NvmeCommand.PsdtSgl, SglIdentifier = SglDescriptor.TransportIdentifier }, []);
        writer.WriteCapsuleCmd(new NvmeCommand
        {
            Opcode = IoOpcodes.Write, CommandId = 5, Nsid = 1, Flags = NvmeCommand.PsdtSgl, SglIdentifier = SglDescriptor.InCapsuleIdentifier, SglLength = 512,
        }, new byte[512]);
    });

    /// <summary>What a controller sends: ICResp, R2T, C2HData, CapsuleResp.</summary>
    private static byte[] ControllerStream() => Write(new PduSettings(), writer =>
    {
        writer.WriteIcResp(new IcRespPdu(0, 0, false, false, 128 * 1024));
        writer.WriteR2T(new R2TPdu(1, 0, 0, 4096));
        writer.WriteC2HData(new C2HDataPdu(2, 0, 512), new byte[512], last: true, success: false);
        writer.WriteCapsuleResp(new NvmeCompletion { CommandId = 2, SqHead = 1 });
    });

    /// <summary>PDUs as a host or controller without digests writes them.</summary>
    internal static byte[] Pdus(Action<PduWriter> write) => Write(new PduSettings(), write);

    private static byte[] Write(PduSettings settings, Action<PduWriter> write)
    {
        var pipe = new Pipe();
        write(new PduWriter(pipe.Writer, settings));
        pipe.Writer.FlushAsync().AsTask().GetAwaiter().GetResult();
        pipe.Writer.Complete();
        pipe.Reader.TryRead(out var result);
        var bytes = result.Buffer.ToArray();
        pipe.Reader.Complete();
        return bytes;
    }

    private static byte[] IdentifyControllerPage()
    {
        var page = new byte[IdentifyController.Size];
        new IdentifyController { Serial = "FUZZSERIAL", Model = "NvmeMptls Fuzz", Firmware = "1.0", SubsystemNqn = TargetQueueTarget.SubsystemNqn }.Write(page);
        return page;
    }

    private static byte[] IdentifyNamespacePage()
    {
        var page = new byte[4096];
        new IdentifyNamespace { BlockCount = 2048, Capacity = 2048, Utilization = 2048, LbaDataSizeShift = 9 }.Write(page);
        return page;
    }

    private static byte[] DescriptorPage()
    {
        var page = new byte[4096];
        NamespaceDescriptors.Write(page, Guid.Parse("00112233-4455-6677-8899-aabbccddeeff"), Guid.Parse("ffeeddcc-bbaa-9988-7766-554433221100"));
        return page;
    }

    private static byte[] DiscoveryPage() => DiscoveryLog.Build(1,
    [
        new DiscoveryLogEntry(DiscoveryLogEntry.TrTypeTcp, 1, 2, 2, 1, 0xFFFF, 32, "4420", TargetQueueTarget.SubsystemNqn, "127.0.0.1", 0),
    ]);

    /// <summary>NBD: fixed-newstyle flags, OPT_STRUCTURED_REPLY, OPT_GO "fuzz", then a write, a read, a flush and a disconnect.</summary>
    private static byte[] NbdSession()
    {
        var bytes = new List<byte>();
        void U16(ushort v) => bytes.AddRange([(byte)(v >> 8), (byte)v]);
        void U32(uint v) { U16((ushort)(v >> 16)); U16((ushort)v); }
        void U64(ulong v) { U32((uint)(v >> 32)); U32((uint)v); }
        void Option(uint option, byte[] data) { U64(0x49484156454F5054); U32(option); U32((uint)data.Length); bytes.AddRange(data); }
        void Request(ushort command, ulong cookie, ulong offset, uint length) { U32(0x25609513); U16(0); U16(command); U64(cookie); U64(offset); U32(length); }
        U32(3); // FIXED_NEWSTYLE | NO_ZEROES
        Option(8, []); // STRUCTURED_REPLY
        var go = new byte[4 + 4 + 2];
        BinaryPrimitives.WriteUInt32BigEndian(go, 4);
        "fuzz"u8.CopyTo(go.AsSpan(4));
        Option(7, go); // GO
        Request(1, 1, 0, 512); // WRITE
        bytes.AddRange(new byte[512]);
        Request(0, 2, 0, 512); // READ
        Request(3, 3, 0, 0);   // FLUSH
        Request(2, 4, 0, 0);   // DISC
        return [.. bytes];
    }

    /// <summary>The client's first flight of a real NVMe/TCP PSK handshake (our client, the test key).</summary>
    private static byte[] ClientHello() => ClientHelloAsync().GetAwaiter().GetResult();

    private static async Task<byte[]> ClientHelloAsync()
    {
        var (client, server) = MemoryConnection.CreatePair();
        var psk = ClientPsk.Create(ConfiguredPsk.Parse(TlsAcceptTarget.Key), TlsAcceptTarget.HostNqn, TlsAcceptTarget.SubsystemNqn);
        var cts = new CancellationTokenSource();
        var connect = NvmeTls.ConnectAsync(client, psk, ct: cts.Token);
        var header = new byte[5];
        while (true)
        {
            var result = await server.Input.ReadAsync().ConfigureAwait(false);
            var buffer = result.Buffer;
            if (buffer.Length >= 5)
            {
                buffer.Slice(0, 5).CopyTo(header);
                var length = 5 + BinaryPrimitives.ReadUInt16BigEndian(header[3..]);
                if (buffer.Length >= length)
                {
                    var hello = buffer.Slice(0, length).ToArray();
                    server.Input.AdvanceTo(buffer.End);
                    await cts.CancelAsync().ConfigureAwait(false);
                    await server.DisposeAsync().ConfigureAwait(false);
                    try
                    {
                        await connect.ConfigureAwait(false);
                    }
                    catch (Exception ex) when (ex is IOException or OperationCanceledException)
                    {
                    }
                    finally
                    {
                        psk.Dispose();
                        cts.Dispose();
                    }

                    await client.DisposeAsync().ConfigureAwait(false);
                    return hello;
                }
            }

            server.Input.AdvanceTo(buffer.Start, buffer.End);
        }
    }
}
