using System.Buffers.Binary;

namespace NvmeMptls.Transport.Nvme;

/// <summary>
/// One ANA Group Descriptor of the Asymmetric Namespace Access log page (NVMe Base 2.0 §5.16.1.12, Figure 226):
/// <code>
/// 03:00   ANAGRPID   ANA group identifier (non-zero)
/// 07:04   NNSIDS     number of NSIDs that follow
/// 15:08   CHGCNT     change count of this group
/// 16      bits 3:0 ANA state
/// 31:17   reserved
/// 32+     NNSIDS × u32 NSID, ascending (omitted when the host asked for groups only)
/// </code>
/// </summary>
public readonly record struct AnaGroupDescriptor(uint GroupId, ulong ChangeCount, AnaState State, IReadOnlyList<uint> Nsids)
{
    public const int HeaderSize = 32;
    public const int GroupIdOffset = 0;
    public const int NsidCountOffset = 4;
    public const int ChangeCountOffset = 8;
    public const int StateOffset = 16;
    public const int NsidsOffset = 32;

    /// <summary>Bytes this descriptor takes: the 32-byte header plus 4 per NSID listed.</summary>
    public int EncodedSize(bool groupsOnly) => HeaderSize + (groupsOnly ? 0 : Nsids.Count * 4);

    /// <summary>Writes the descriptor at the start of <paramref name="d"/>; returns the bytes written.</summary>
    public int Write(Span<byte> d, bool groupsOnly)
    {
        var size = EncodedSize(groupsOnly);
        d[..size].Clear();
        BinaryPrimitives.WriteUInt32LittleEndian(d[GroupIdOffset..], GroupId);
        BinaryPrimitives.WriteUInt32LittleEndian(d[NsidCountOffset..], groupsOnly ? 0u : (uint)Nsids.Count);
        BinaryPrimitives.WriteUInt64LittleEndian(d[ChangeCountOffset..], ChangeCount);
        d[StateOffset] = (byte)((byte)State & 0x0F);
        if (!groupsOnly)
        {
            for (var i = 0; i < Nsids.Count; i++)
            {
                BinaryPrimitives.WriteUInt32LittleEndian(d[(NsidsOffset + (i * 4))..], Nsids[i]);
            }
        }

        return size;
    }
}
