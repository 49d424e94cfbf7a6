using System.Buffers.Binary;

namespace NvmeMptls.Transport.Nvme;

/// <summary>One Discovery Log Page entry (1024 bytes). Reference §3.7 (offsets compiled from libnvme).</summary>
public sealed record DiscoveryLogEntry(
    byte TransportType,
    byte AddressFamily,
    byte SubsystemType,
    byte TransportRequirements,
    ushort PortId,
    ushort ControllerId,
    ushort AdminMaxSqSize,
    string TransportServiceId,
    string SubsystemNqn,
    string TransportAddress,
    byte SecurityType)
{
    public const int Size = 1024;
    public const byte TrTypeTcp = 3;
    public const byte AdrFamIpv4 = 1;
    public const byte AdrFamIpv6 = 2;
    public const byte SubTypeReferral = 1;
    public const byte SubTypeNvm = 2;
    public const byte SubTypeCurrentDiscovery = 3;

    /// <summary>TREQ bits 1:0.</summary>
    public const byte TreqNotSpecified = 0;
    public const byte TreqRequired = 1;
    public const byte TreqNotRequired = 2;
    /// <summary>TREQ bit 2: SQ flow control disable supported.</summary>
    public const byte TreqSqFlowControlDisable = 4;

    /// <summary>TSAS SECTYPE (byte 768).</summary>
    public const byte SecTypeNone = 0;
    public const byte SecTypeTls13 = 2;

    public void Write(Span<byte> d)
    {
        d[..Size].Clear();
        d[0] = TransportType;
        d[1] = AddressFamily;
        d[2] = SubsystemType;
        d[3] = TransportRequirements;
        BinaryPrimitives.WriteUInt16LittleEndian(d[4..], PortId);
        BinaryPrimitives.WriteUInt16LittleEndian(d[6..], ControllerId);
        BinaryPrimitives.WriteUInt16LittleEndian(d[8..], AdminMaxSqSize);
        AsciiField.WriteNulPadded(d.Slice(32, 32), TransportServiceId);
        AsciiField.WriteNulPadded(d.Slice(256, 256), SubsystemNqn);
        AsciiField.WriteNulPadded(d.Slice(512, 256), TransportAddress);
        d[768] = SecurityType;
    }

    public static DiscoveryLogEntry Read(ReadOnlySpan<byte> d) => new(
        d[0], d[1], d[2], d[3],
        BinaryPrimitives.ReadUInt16LittleEndian(d[4..]),
        BinaryPrimitives.ReadUInt16LittleEndian(d[6..]),
        BinaryPrimitives.ReadUInt16LittleEndian(d[8..]),
        AsciiField.Read(d.Slice(32, 32)),
        AsciiField.Read(d.Slice(256, 256)),
        AsciiField.Read(d.Slice(512, 256)),
        d[768]);
}

/// <summary>The Discovery Log Page (LID 70h): a 1024-byte header (GENCTR @0, NUMREC @8, RECFMT @16) then entries.</summary>
public static class DiscoveryLog
{
    public const int HeaderSize = 1024;

    public static byte[] Build(ulong generation, IReadOnlyList<DiscoveryLogEntry> entries)
    {
        var page = new byte[HeaderSize + (entries.Count * DiscoveryLogEntry.Size)];
        BinaryPrimitives.WriteUInt64LittleEndian(page, generation);
        BinaryPrimitives.WriteUInt64LittleEndian(page.AsSpan(8), (ulong)entries.Count);
        for (var i = 0; i < entries.Count; i++)
        {
            entries[i].Write(page.AsSpan(HeaderSize + (i * DiscoveryLogEntry.Size)));
        }

        return page;
    }

    public static (ulong Generation, ulong Records) ReadHeader(ReadOnlySpan<byte> page) => (
        BinaryPrimitives.ReadUInt64LittleEndian(page),
        BinaryPrimitives.ReadUInt64LittleEndian(page[8..]));
}
