using System.Buffers.Binary;

namespace NvmeMptls.Transport.Nvme;

/// <summary>
/// The fields of the 4096-byte Identify Namespace structure (CNS 00h) we fill. Reference §3.4 (offsets compiled
/// from libnvme). One LBA format (NLBAF 0): LBAF0 = 2^LBADS-byte blocks, no metadata.
/// </summary>
public sealed record IdentifyNamespace
{
    public const int Size = 4096;
    public const int NszeOffset = 0;
    public const int NcapOffset = 8;
    public const int NuseOffset = 16;
    public const int NsfeatOffset = 24;
    public const int NlbafOffset = 25;
    public const int FlbasOffset = 26;
    public const int NmicOffset = 30;
    public const int RescapOffset = 31;
    public const int DlfeatOffset = 33;
    public const int NvmcapOffset = 48;
    public const int AnaGrpIdOffset = 92;
    public const int NsattrOffset = 99;
    public const int NguidOffset = 104;
    public const int Eui64Offset = 120;
    public const int Lbaf0Offset = 128;

    public ulong BlockCount { get; init; }
    public ulong Capacity { get; init; }
    public ulong Utilization { get; init; }
    public byte Features { get; init; }
    public byte Nmic { get; init; }
    public byte Dlfeat { get; init; }

    /// <summary>RESCAP: reservation capabilities (see <see cref="ReservationTypes.CapabilitiesAll"/>).</summary>
    public byte ReservationCapabilities { get; init; }
    public bool WriteProtected { get; init; }
    public Guid Nguid { get; init; }

    /// <summary>ANAGRPID (bytes 95:92): the ANA group the namespace belongs to; 0 when the controller reports no ANA.</summary>
    public uint AnaGroupId { get; init; }
    public int LbaDataSizeShift { get; init; }

    public int LbaSize => 1 << LbaDataSizeShift;

    public void Write(Span<byte> d)
    {
        d[..Size].Clear();
        BinaryPrimitives.WriteUInt64LittleEndian(d[NszeOffset..], BlockCount);
        BinaryPrimitives.WriteUInt64LittleEndian(d[NcapOffset..], Capacity);
        BinaryPrimitives.WriteUInt64LittleEndian(d[NuseOffset..], Utilization);
        d[NsfeatOffset] = Features;
        d[NlbafOffset] = 0;
        d[FlbasOffset] = 0;
        d[NmicOffset] = Nmic;
        d[RescapOffset] = ReservationCapabilities;
        d[DlfeatOffset] = Dlfeat;
        var bytes = (UInt128)BlockCount << LbaDataSizeShift;
        BinaryPrimitives.WriteUInt128LittleEndian(d[NvmcapOffset..], bytes);
        BinaryPrimitives.WriteUInt32LittleEndian(d[AnaGrpIdOffset..], AnaGroupId);
        d[NsattrOffset] = WriteProtected ? (byte)1 : (byte)0;
        Nguid.TryWriteBytes(d.Slice(NguidOffset, 16), bigEndian: true, out _);
        d[Lbaf0Offset + 2] = (byte)LbaDataSizeShift;
    }

    public static IdentifyNamespace Read(ReadOnlySpan<byte> d)
    {
        var format = d[FlbasOffset] & 0x0F;
        return new IdentifyNamespace
        {
            BlockCount = BinaryPrimitives.ReadUInt64LittleEndian(d[NszeOffset..]),
            Capacity = BinaryPrimitives.ReadUInt64LittleEndian(d[NcapOffset..]),
            Utilization = BinaryPrimitives.ReadUInt64LittleEndian(d[NuseOffset..]),
            Features = d[NsfeatOffset],
            Nmic = d[NmicOffset],
            Dlfeat = d[DlfeatOffset],
            ReservationCapabilities = d[RescapOffset],
            WriteProtected = (d[NsattrOffset] & 1) != 0,
            Nguid = new Guid(d.Slice(NguidOffset, 16), bigEndian: true),
            AnaGroupId = BinaryPrimitives.ReadUInt32LittleEndian(d[AnaGrpIdOffset..]),
            LbaDataSizeShift = d[Lbaf0Offset + (format * 4) + 2],
        };
    }
}
