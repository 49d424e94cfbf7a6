using System.Buffers.Binary;

namespace NvmeMptls.Transport.Nvme;

/// <summary>One registrant of a reservation report: its controller (FFFFh when none is connected), holder flag, host id and key.</summary>
public readonly record struct ReservationRegistrant(ushort ControllerId, bool HoldsReservation, Guid HostId, ulong Key);

/// <summary>
/// Reservation Status data structure, extended form (Report with EDS set; NVMe Base 2.0 §7.6, Figures 391 and 393),
/// the only form for fabrics hosts' 128-bit host identifiers:
/// <code>
/// 03:00   GEN      generation: incremented by Register, Unregister, Replace, Preempt and Clear
/// 04      RTYPE    reservation type (0: none)
/// 06:05   REGCTL   number of registrants
/// 09      PTPLS    persist through power loss state
/// 63:24   reserved
/// 64+     64-byte registrant entries:
///         01:00 CNTLID   02 RCSTS (bit 0 holds the reservation)   15:08 RKEY   31:16 HOSTID (128 bits)
/// </code>
/// </summary>
public sealed record ReservationReport(uint Generation, ReservationType Type, bool PersistThroughPowerLoss, IReadOnlyList<ReservationRegistrant> Registrants)
{
    public const int HeaderSize = 64;
    public const int EntrySize = 64;
    public const int GenerationOffset = 0;
    public const int TypeOffset = 4;
    public const int CountOffset = 5;
    public const int PtplOffset = 9;
    public const int EntryControllerIdOffset = 0;
    public const int EntryStatusOffset = 2;
    public const int EntryKeyOffset = 8;
    public const int EntryHostIdOffset = 16;

    public int Size => HeaderSize + (Registrants.Count * EntrySize);

    /// <summary>Writes as much of the report as fits in <paramref name="d"/> (the host's NUMD may cut it); the rest of <paramref name="d"/> is zeroed.</summary>
    public void Write(Span<byte> d)
    {
        var full = new byte[Size];
        BinaryPrimitives.WriteUInt32LittleEndian(full.AsSpan(GenerationOffset), Generation);
        full[TypeOffset] = (byte)Type;
        BinaryPrimitives.WriteUInt16LittleEndian(full.AsSpan(CountOffset), (ushort)Registrants.Count);
        full[PtplOffset] = PersistThroughPowerLoss ? (byte)1 : (byte)0;
        for (var i = 0; i < Registrants.Count; i++)
        {
            var e = full.AsSpan(HeaderSize + (i * EntrySize), EntrySize);
            var r = Registrants[i];
            BinaryPrimitives.WriteUInt16LittleEndian(e[EntryControllerIdOffset..], r.ControllerId);
            e[EntryStatusOffset] = r.HoldsReservation ? (byte)1 : (byte)0;
            BinaryPrimitives.WriteUInt64LittleEndian(e[EntryKeyOffset..], r.Key);
            r.HostId.TryWriteBytes(e.Slice(EntryHostIdOffset, 16), bigEndian: true, out _);
        }

        d.Clear();
        full.AsSpan(0, Math.Min(full.Length, d.Length)).CopyTo(d);
    }

    /// <summary>Parses a report read by a host (entries beyond the bytes read are left out).</summary>
    public static ReservationReport Read(ReadOnlySpan<byte> d)
    {
        if (d.Length < HeaderSize)
        {
            throw new InvalidDataException($"reservation report of {d.Length} bytes is shorter than its 64-byte header");
        }

        int count = BinaryPrimitives.ReadUInt16LittleEndian(d[CountOffset..]);
        var entries = new List<ReservationRegistrant>();
        for (var i = 0; i < count && HeaderSize + ((i + 1) * EntrySize) <= d.Length; i++)
        {
            var e = d.Slice(HeaderSize + (i * EntrySize), EntrySize);
            entries.Add(new ReservationRegistrant(
                BinaryPrimitives.ReadUInt16LittleEndian(e[EntryControllerIdOffset..]),
                (e[EntryStatusOffset] & 1) != 0,
                new Guid(e.Slice(EntryHostIdOffset, 16), bigEndian: true),
                BinaryPrimitives.ReadUInt64LittleEndian(e[EntryKeyOffset..])));
        }

        return new ReservationReport(BinaryPrimitives.ReadUInt32LittleEndian(d), (ReservationType)d[TypeOffset], (d[PtplOffset] & 1) != 0, entries);
    }
}
