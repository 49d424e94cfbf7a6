using System.Text;
using NvmeMptls.Transport.Nvme;
using NvmeMptls.Transport.Pdu;

namespace NvmeMptls.Fuzz;

/// <summary>Seeds of the reservation targets: saved states in both forms, and reservation command sequences on an I/O queue.</summary>
internal static class ReservationSeeds
{
    private const string HostB = "bbbbbbbb-1111-2222-3333-444444444444";

    private static readonly string s_allRegistrants = $"""
        nvmemptls-reservations 1
        generation 7
        type 5
        holder {ReservationIoTarget.HostId}
        ptpl 1
        registrant {ReservationIoTarget.HostId} 0x1122334455667788
        registrant {HostB} 0x00000000000000bb

        """.ReplaceLineEndings("\n");

    private static readonly string s_writeExclusive = $"""
        nvmemptls-reservations 1
        generation 2
        type 1
        holder {ReservationIoTarget.HostId}
        ptpl 0
        registrant {ReservationIoTarget.HostId} 0x000000000000aaaa

        """.ReplaceLineEndings("\n");

    public static IEnumerable<(string Target, string Name, byte[] Bytes)> All()
    {
        yield return ("reservation-state", "file-all-registrants", [0, .. Encoding.ASCII.GetBytes(s_allRegistrants)]);
        yield return ("reservation-state", "file-write-exclusive-crlf", [0, .. Encoding.ASCII.GetBytes(s_writeExclusive.ReplaceLineEndings("\r\n"))]);
        yield return ("reservation-state", "file-empty-state", [0, .. "nvmemptls-reservations 1\n"u8]);
        yield return ("reservation-state", "rbd-all-registrants", [1, .. Encoding.ASCII.GetBytes(s_allRegistrants), 0, .. "after the NUL"u8]);
        yield return ("reservation-state", "rbd-write-exclusive", [1, .. Encoding.ASCII.GetBytes(s_writeExclusive)]);
        yield return ("reservation-io", "register-acquire-io-report-release", SeedCorpus.Pdus(writer =>
        {
            Keys(writer, 1, IoOpcodes.ReservationRegister, new(ReservationCommand.RegisterAction, false, ReservationType.None, ReservationCommand.PtplSet), 0, 0xAAAA);
            Keys(writer, 2, IoOpcodes.ReservationAcquire, new(ReservationCommand.AcquireAction, false, ReservationType.WriteExclusive, 0), 0xAAAA, 0);
            Io(writer, 3, IoOpcodes.Write, 512);
            Report(writer, 4, 4096);
            Io(writer, 5, IoOpcodes.Read, 0);
            Keys(writer, 6, IoOpcodes.ReservationRelease, new(ReservationCommand.ReleaseAction, false, ReservationType.WriteExclusive, 0), 0xAAAA, 0);
            Report(writer, 7, 24);
        }));
        yield return ("reservation-io", "replace-preempt-clear-unregister", SeedCorpus.Pdus(writer =>
        {
            Keys(writer, 1, IoOpcodes.ReservationRegister, new(ReservationCommand.RegisterAction, false, ReservationType.None, 0), 0, 1);
            Keys(writer, 2, IoOpcodes.ReservationRegister, new(ReservationCommand.ReplaceAction, true, ReservationType.None, 0), 0, 2);
            Keys(writer, 3, IoOpcodes.ReservationAcquire, new(ReservationCommand.AcquireAction, false, ReservationType.ExclusiveAccessAllRegistrants, 0), 2, 0);
            Keys(writer, 4, IoOpcodes.ReservationAcquire, new(ReservationCommand.PreemptAndAbortAction, false, ReservationType.WriteExclusiveRegistrantsOnly, 0), 2, 0);
            Report(writer, 5, 4096);
            Keys(writer, 6, IoOpcodes.ReservationRelease, new(ReservationCommand.ClearAction, false, ReservationType.None, 0), 2, 0);
            Keys(writer, 7, IoOpcodes.ReservationRegister, new(ReservationCommand.RegisterAction, false, ReservationType.None, 0), 0, 3);
            Keys(writer, 8, IoOpcodes.ReservationRegister, new(ReservationCommand.UnregisterAction, false, ReservationType.None, ReservationCommand.PtplClear), 3, 0);
        }));
    }

    /// <summary>A Register/Acquire (16 bytes) or Release (8 bytes) capsule with its keys as in-capsule data.</summary>
    private static void Keys(PduWriter writer, ushort cid, byte opcode, ReservationCommand fields, ulong key, ulong other)
    {
        var data = new byte[opcode == IoOpcodes.ReservationRelease ? ReservationCommand.ReleaseDataSize : ReservationCommand.KeysDataSize];
        ReservationCommand.WriteKeys(data, key, other);
        writer.WriteCapsuleCmd(new NvmeCommand
        {
            Opcode = opcode, CommandId = cid, Nsid = 1, Flags = NvmeCommand.PsdtSgl, Cdw10 = fields.ToCdw10(),
            SglIdentifier = SglDescriptor.InCapsuleIdentifier, SglLength = (uint)data.Length,
        }, data);
    }

    /// <summary>An extended Reservation Report into a host buffer of <paramref name="length"/> bytes (C2HData).</summary>
    private static void Report(PduWriter writer, ushort cid, uint length) => writer.WriteCapsuleCmd(new NvmeCommand
    {
        Opcode = IoOpcodes.ReservationReport, CommandId = cid, Nsid = 1, Flags = NvmeCommand.PsdtSgl, Cdw10 = (length / 4) - 1, Cdw11 = 1,
        SglIdentifier = SglDescriptor.TransportIdentifier, SglLength = length,
    }, []);

    /// <summary>A one-block write (in-capsule data) or read, which the reservation allows or refuses.</summary>
    private static void Io(PduWriter writer, ushort cid, byte opcode, int dataLength) => writer.WriteCapsuleCmd(new NvmeCommand
    {
        Opcode = opcode, CommandId = cid, Nsid = 1, Flags = NvmeCommand.PsdtSgl, Cdw12 = 0,
        SglIdentifier = dataLength > 0 ? SglDescriptor.InCapsuleIdentifier : SglDescriptor.TransportIdentifier, SglLength = 512,
    }, new byte[dataLength]);
}
