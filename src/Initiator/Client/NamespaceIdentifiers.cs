using NvmeMptls.Transport.Nvme;

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
        var d = NamespaceDescriptors.Read(list);
        return new NamespaceIdentifiers(d.Eui64, d.Nguid, d.Uuid, d.CommandSet);
    }
}
