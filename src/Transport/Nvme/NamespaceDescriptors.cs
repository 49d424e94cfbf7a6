using System.Buffers.Binary;

namespace NvmeMptls.Transport.Nvme;

/// <summary>
/// The Namespace Identification Descriptor list (Identify CNS 03h): 4096 bytes of entries ended by a zero
/// descriptor. Reference §3.5.
/// <code>
/// 0       NIDT    1 EUI64 (NIDL 8), 2 NGUID (16), 3 UUID (16), 4 CSI (1)
/// 1       NIDL    length of NID
/// 2–3     reserved
/// 4…      NID     NIDL bytes (EUI64/NGUID/UUID big-endian, as printed)
/// </code>
/// </summary>
public static class NamespaceDescriptors
{
    public const int Size = 4096;
    public const int HeaderLength = 4;
    public const int TypeOffset = 0;
    public const int LengthOffset = 1;

    public const byte TypeEui64 = 1;
    public const byte TypeNguid = 2;
    public const byte TypeUuid = 3;
    public const byte TypeCsi = 4;

    public const byte Eui64Length = 8;
    public const byte GuidLength = 16;
    public const byte CsiLength = 1;

    /// <summary>CSI 0: the NVM command set.</summary>
    public const byte CommandSetNvm = 0;

    /// <summary>Writes UUID, NGUID and CSI (NVM) descriptors and zero-fills the rest, as the Linux target does.</summary>
    public static void Write(Span<byte> d, Guid uuid, Guid nguid)
    {
        d[..Size].Clear();
        var offset = 0;
        offset = Put(d, offset, TypeUuid, uuid);
        offset = Put(d, offset, TypeNguid, nguid);
        d[offset + TypeOffset] = TypeCsi;
        d[offset + LengthOffset] = CsiLength;
        d[offset + HeaderLength] = CommandSetNvm;
    }

    /// <summary>
    /// Decodes a list. A descriptor whose NIDL does not match its type is skipped, an unknown type too; a
    /// descriptor running past the end ends the list.
    /// </summary>
    public static NamespaceDescriptorList Read(ReadOnlySpan<byte> d)
    {
        var result = default(NamespaceDescriptorList);
        var offset = 0;
        while (offset + HeaderLength <= d.Length && d[offset + TypeOffset] != 0)
        {
            var type = d[offset + TypeOffset];
            var length = d[offset + LengthOffset];
            if (offset + HeaderLength + length > d.Length)
            {
                break;
            }

            var id = d.Slice(offset + HeaderLength, length);
            result = (type, length) switch
            {
                (TypeEui64, Eui64Length) => result with { Eui64 = BinaryPrimitives.ReadUInt64BigEndian(id) },
                (TypeNguid, GuidLength) => result with { Nguid = new Guid(id, bigEndian: true) },
                (TypeUuid, GuidLength) => result with { Uuid = new Guid(id, bigEndian: true) },
                (TypeCsi, CsiLength) => result with { CommandSet = id[0] },
                _ => result,
            };
            offset += HeaderLength + length;
        }

        return result;
    }

    private static int Put(Span<byte> d, int offset, byte type, Guid id)
    {
        d[offset + TypeOffset] = type;
        d[offset + LengthOffset] = GuidLength;
        id.TryWriteBytes(d.Slice(offset + HeaderLength, GuidLength), bigEndian: true, out _);
        return offset + HeaderLength + GuidLength;
    }
}

/// <summary>What a descriptor list reported; null where a descriptor was absent.</summary>
public readonly record struct NamespaceDescriptorList(ulong? Eui64, Guid? Nguid, Guid? Uuid, byte? CommandSet);
