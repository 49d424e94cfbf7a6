namespace NvmeMptls.Transport.Nvme;

/// <summary>
/// The Namespace Identification Descriptor list (Identify CNS 03h): 4096 bytes of
/// <c>NIDT(1) NIDL(1) reserved(2) NID(NIDL)</c> entries ended by a zero descriptor. Reference §3.5.
/// </summary>
public static class NamespaceDescriptors
{
    public const int Size = 4096;
    public const byte TypeEui64 = 1;
    public const byte TypeNguid = 2;
    public const byte TypeUuid = 3;
    public const byte TypeCsi = 4;

    /// <summary>Writes UUID, NGUID and CSI (NVM) descriptors, as the Linux target does.</summary>
    public static void Write(Span<byte> d, Guid uuid, Guid nguid)
    {
        d[..Size].Clear();
        var offset = 0;
        offset = Put(d, offset, TypeUuid, uuid);
        offset = Put(d, offset, TypeNguid, nguid);
        d[offset] = TypeCsi;
        d[offset + 1] = 1;
        d[offset + 4] = 0;
    }

    public static (Guid? Uuid, Guid? Nguid) Read(ReadOnlySpan<byte> d)
    {
        Guid? uuid = null, nguid = null;
        var offset = 0;
        while (offset + 4 <= d.Length && d[offset] != 0)
        {
            var type = d[offset];
            var length = d[offset + 1];
            if (offset + 4 + length > d.Length)
            {
                break;
            }

            var id = d.Slice(offset + 4, length);
            if (type == TypeUuid && length == 16)
            {
                uuid = new Guid(id, bigEndian: true);
            }
            else if (type == TypeNguid && length == 16)
            {
                nguid = new Guid(id, bigEndian: true);
            }

            offset += 4 + length;
        }

        return (uuid, nguid);
    }

    private static int Put(Span<byte> d, int offset, byte type, Guid id)
    {
        d[offset] = type;
        d[offset + 1] = 16;
        id.TryWriteBytes(d.Slice(offset + 4, 16), bigEndian: true, out _);
        return offset + 20;
    }
}
