namespace NvmeMptls.Initiator;

/// <summary>The Namespace Identification Descriptor list (Identify CNS 03h), decoded.</summary>
/// <param name="Eui64">IEEE EUI-64, if reported.</param>
/// <param name="Nguid">Namespace GUID, if reported.</param>
/// <param name="Uuid">Namespace UUID, if reported.</param>
/// <param name="CommandSet">Command set identifier (0 = NVM), if reported.</param>
public sealed record NamespaceIdentifiers(ulong? Eui64, Guid? Nguid, Guid? Uuid, byte? CommandSet)
{
    /// <summary>Decodes a 4096-byte descriptor list (reference §3.5).</summary>
    internal static NamespaceIdentifiers Parse(ReadOnlySpan<byte> list)
    {
        ulong? eui = null;
        Guid? nguid = null, uuid = null;
        byte? csi = null;
        var offset = 0;
        while (offset + 4 <= list.Length && list[offset] != 0)
        {
            var type = list[offset];
            var length = list[offset + 1];
            if (offset + 4 + length > list.Length)
            {
                break;
            }

            var id = list.Slice(offset + 4, length);
            switch (type)
            {
                case 1 when length == 8:
                    eui = System.Buffers.Binary.BinaryPrimitives.ReadUInt64BigEndian(id);
                    break;
                case 2 when length == 16:
                    nguid = new Guid(id, bigEndian: true);
                    break;
                case 3 when length == 16:
                    uuid = new Guid(id, bigEndian: true);
                    break;
                case 4 when length == 1:
                    csi = id[0];
                    break;
            }

            offset += 4 + length;
        }

        return new NamespaceIdentifiers(eui, nguid, uuid, csi);
    }
}
