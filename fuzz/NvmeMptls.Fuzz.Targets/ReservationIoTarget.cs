using System.Buffers;
using System.Buffers.Binary;
using System.IO.Pipelines;
using Microsoft.Extensions.Logging.Abstractions;
using NvmeMptls.Target.Namespaces;
using NvmeMptls.Target.Subsystems;
using NvmeMptls.Target.Tcp;
using NvmeMptls.Transport.Connections;
using NvmeMptls.Transport.Nvme;
using NvmeMptls.Transport.Pdu;

namespace NvmeMptls.Fuzz;

/// <summary>
/// The reservation commands on an I/O queue (Register, Acquire, Release with their 16/16/8 bytes of keys, Report
/// into the host's buffer, and the reads and writes a reservation allows or refuses). The harness first brings up
/// an admin queue (ICReq, Connect, CC.EN=1, Number of Queues) and an I/O queue (ICReq, Connect QID 1 to that
/// controller), both as host <see cref="HostId"/>; the input is then everything the host sends on the I/O queue.
/// The namespace keeps its reservations in a store that formats and re-parses each saved state, so PTPL can be set
/// and every state the commands reach goes through the state parser. Nothing may escape
/// <see cref="TargetQueue.RunAsync"/>, and both queues must end once the input has.
/// </summary>
public static class ReservationIoTarget
{
    public static readonly Guid HostId = Guid.Parse("aaaaaaaa-1111-2222-3333-444444444444");
    public const string HostNqn = "nqn.2014-08.org.nvmexpress:uuid:aaaaaaaa-1111-2222-3333-444444444444";

    private const int IcRespSize = 128;
    private const int CapsuleRespSize = 8 + NvmeCompletion.Size;
    private const int AdminCommands = 3;
    private static readonly byte[] s_adminSetup = SeedCorpus.Pdus(writer =>
    {
        writer.WriteIcReq(new IcReqPdu(0, 0, false, false, 0));
        writer.WriteCapsuleCmd(Connect(0, ConnectData.DynamicControllerId, 1), ConnectBytes(ConnectData.DynamicControllerId));
        writer.WriteCapsuleCmd(new NvmeCommand
        {
            Opcode = FabricsOpcodes.Fabrics, Flags = NvmeCommand.PsdtSgl, CommandId = 2, Nsid = FabricsOpcodes.PropertySet,
            Cdw11 = PropertyOffsets.Cc, Cdw12 = (6u << 16) | (4u << 20) | 1, SglIdentifier = SglDescriptor.TransportIdentifier,
        }, []);
        writer.WriteCapsuleCmd(new NvmeCommand
        {
            Opcode = AdminOpcodes.SetFeatures, Flags = NvmeCommand.PsdtSgl, CommandId = 3, Cdw10 = FeatureIds.NumberOfQueues,
            SglIdentifier = SglDescriptor.TransportIdentifier,
        }, []);
    });

    public static void Run(byte[] input) => Serve(input, null);

    /// <summary>Runs <paramref name="input"/> and returns the completions the I/O queue sent (Connect's first): what a test checks the seeds reach.</summary>
    public static IReadOnlyList<NvmeCompletion> Completions(byte[] input)
    {
        using var received = new MemoryStream();
        Serve(input, received);
        var bytes = received.ToArray();
        var completions = new List<NvmeCompletion>();
        for (var at = 0; at + 8 <= bytes.Length;)
        {
            var length = (int)BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(at + 4));
            if (length < 8 || at + length > bytes.Length)
            {
                break;
            }

            if (bytes[at] == (byte)PduType.CapsuleResp)
            {
                completions.Add(NvmeCompletion.Read(bytes.AsSpan(at + 8, NvmeCompletion.Size)));
            }

            at += length;
        }

        return completions;
    }

    private static void Serve(byte[] input, MemoryStream? received)
    {
        var registry = new TargetRegistry(new TargetLimits());
        var subsystem = new Subsystem(TargetQueueTarget.SubsystemNqn, "FUZZSERIAL", "NvmeMptls Fuzz", isDiscovery: false, HostAccess.Any);
        var store = new TextStore();
        var reservations = new NamespaceReservations(store);
        subsystem.AddNamespace(new TargetNamespace(1, new MemoryBlockDevice(1 << 20, 512), Guid.Empty, Guid.Empty, readOnly: false, reservations: reservations));
        registry.AddSubsystem(subsystem);
        var port = new TargetPortInfo(1, "127.0.0.1", 4420, PortTlsMode.None);
        registry.AddPort(port);
        FuzzTargets.Await(ServeAsync(registry, port, input, received), "reservation I/O queue");
        if (store.Failure is { } failure)
        {
            throw new InvalidOperationException(failure);
        }
    }

    /// <summary>ICReq and the Connect of I/O queue 1 to controller <paramref name="controllerId"/>: what precedes the input.</summary>
    public static byte[] IoPrefix(ushort controllerId) => SeedCorpus.Pdus(writer =>
    {
        writer.WriteIcReq(new IcReqPdu(0, 0, false, false, 0));
        writer.WriteCapsuleCmd(Connect(1, controllerId, 1), ConnectBytes(controllerId));
    });

    private static NvmeCommand Connect(ushort qid, ushort controllerId, ushort commandId) => new()
    {
        Opcode = FabricsOpcodes.Fabrics, Flags = NvmeCommand.PsdtSgl, CommandId = commandId, Nsid = FabricsOpcodes.Connect,
        Cdw10 = (uint)qid << 16, Cdw11 = 31, SglIdentifier = SglDescriptor.InCapsuleIdentifier, SglLength = ConnectData.Size,
    };

    private static byte[] ConnectBytes(ushort controllerId)
    {
        var data = new byte[ConnectData.Size];
        new ConnectData(HostId, controllerId, TargetQueueTarget.SubsystemNqn, HostNqn).Write(data);
        return data;
    }

    private static async Task ServeAsync(TargetRegistry registry, TargetPortInfo port, byte[] input, MemoryStream? received)
    {
        var (adminHost, adminTarget) = MemoryConnection.CreatePair();
        await using (adminHost.ConfigureAwait(false))
        {
            var adminRun = new TargetQueue(adminTarget, registry, port, NullLogger.Instance).RunAsync(CancellationToken.None);
            await adminHost.Output.WriteAsync(s_adminSetup).ConfigureAwait(false);
            var controllerId = await ReadSetupAsync(adminHost.Input).ConfigureAwait(false);
            var adminDrain = PipeDrain.ToEndAsync(adminHost.Input);

            var (ioHost, ioTarget) = MemoryConnection.CreatePair();
            await using (ioHost.ConfigureAwait(false))
            {
                var ioRun = new TargetQueue(ioTarget, registry, port, NullLogger.Instance).RunAsync(CancellationToken.None);
                var ioDrain = received is null ? PipeDrain.ToEndAsync(ioHost.Input) : ioHost.Input.CopyToAsync(received);
                await ioHost.Output.WriteAsync(IoPrefix(controllerId)).ConfigureAwait(false);
                await ioHost.Output.WriteAsync(input).ConfigureAwait(false);
                await ioHost.Output.CompleteAsync().ConfigureAwait(false);
                await ioRun.ConfigureAwait(false);
                await ioDrain.ConfigureAwait(false);
            }

            await adminHost.Output.CompleteAsync().ConfigureAwait(false);
            await adminRun.ConfigureAwait(false);
            await adminDrain.ConfigureAwait(false);
        }
    }

    /// <summary>Waits for the ICResp and the three completions; returns the controller id Connect gave.</summary>
    private static async Task<ushort> ReadSetupAsync(PipeReader reader)
    {
        const int Needed = IcRespSize + (AdminCommands * CapsuleRespSize);
        while (true)
        {
            var result = await reader.ReadAsync().ConfigureAwait(false);
            if (result.Buffer.Length >= Needed)
            {
                var bytes = result.Buffer.Slice(0, Needed).ToArray();
                reader.AdvanceTo(result.Buffer.GetPosition(Needed));
                ushort controllerId = 0;
                for (var i = 0; i < AdminCommands; i++)
                {
                    var cqe = NvmeCompletion.Read(bytes.AsSpan(IcRespSize + (i * CapsuleRespSize) + 8, NvmeCompletion.Size));
                    if (!cqe.Status.IsSuccess)
                    {
                        throw new InvalidOperationException($"fuzz harness: admin setup command {cqe.CommandId} failed with {cqe.Status}");
                    }

                    controllerId = i == 0 ? (ushort)cqe.Dw0 : controllerId;
                }

                return controllerId;
            }

            if (result.IsCompleted)
            {
                throw new InvalidOperationException("fuzz harness: the admin queue ended during setup");
            }

            reader.AdvanceTo(result.Buffer.Start, result.Buffer.End);
        }
    }

    /// <summary>Keeps the saved state as its text and parses it back on load: every state the commands reach is re-read.</summary>
    private sealed class TextStore : IReservationStore
    {
        private string? _text;

        /// <summary>Set when a saved state did not parse back to itself (the queue would turn an exception into a status).</summary>
        public string? Failure { get; private set; }

        public ReservationSnapshot Load() => _text is null ? ReservationSnapshot.Empty : RbdReservationStore.Parse(_text, "fuzz store");

        public void Save(ReservationSnapshot snapshot)
        {
            _text = FileReservationStore.Format(snapshot);
            try
            {
                var again = Load();
                if (again.Generation != snapshot.Generation || again.Type != snapshot.Type || again.Holder != snapshot.Holder
                    || again.PersistThroughPowerLoss != snapshot.PersistThroughPowerLoss || !again.Registrants.SequenceEqual(snapshot.Registrants))
                {
                    Failure ??= "a saved reservation state does not parse back to itself:\n" + _text;
                }
            }
            catch (InvalidDataException ex)
            {
                Failure ??= $"a saved reservation state is refused when read back ({ex.Message}):\n{_text}";
            }
        }
    }
}
