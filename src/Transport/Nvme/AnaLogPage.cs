using System.Buffers.Binary;

namespace NvmeMptls.Transport.Nvme;

/// <summary>
/// The Asymmetric Namespace Access log page (LID 0Ch, NVMe Base 2.0 §5.16.1.12, Figure 225): a 16-byte header then
/// NGRPS group descriptors (<see cref="AnaGroupDescriptor"/>).
/// <code>
/// 07:00   CHGCNT   change count: incremented whenever the page's content changes
/// 09:08   NGRPS    number of ANA group descriptors
/// 15:10   reserved
/// </code>
/// Get Log Page LSP bit 0 (RGO, "return groups only") asks for the descriptors without their NSID lists.
/// </summary>
public sealed record AnaLogPage(ulong ChangeCount, IReadOnlyList<AnaGroupDescriptor> Groups)
{
    public const int HeaderSize = 16;
    public const int ChangeCountOffset = 0;
    public const int GroupCountOffset = 8;

    /// <summary>LSP bit 0 of Get Log Page for LID 0Ch: Return Groups Only.</summary>
    public const byte LspReturnGroupsOnly = 0x01;

    /// <summary>The size a host must read for any page: header, <paramref name="maxGroups"/> descriptors and every NSID once (as Linux sizes it).</summary>
    public static int MaxSize(uint maxGroups, uint maxNamespaces) =>
        checked(HeaderSize + ((int)maxGroups * AnaGroupDescriptor.HeaderSize) + ((int)maxNamespaces * 4));

    public byte[] ToArray(bool groupsOnly)
    {
        var size = HeaderSize;
        foreach (var g in Groups)
        {
            size += g.EncodedSize(groupsOnly);
        }

        var page = new byte[size];
        BinaryPrimitives.WriteUInt64LittleEndian(page.AsSpan(ChangeCountOffset), ChangeCount);
        BinaryPrimitives.WriteUInt16LittleEndian(page.AsSpan(GroupCountOffset), checked((ushort)Groups.Count));
        var offset = HeaderSize;
        foreach (var g in Groups)
        {
            offset += g.Write(page.AsSpan(offset), groupsOnly);
        }

        return page;
    }

    /// <summary>
    /// Parses a page read from a controller. The checks are those a host must make before trusting it (the Linux host
    /// refuses the same): every descriptor and NSID list inside the bytes read, a non-zero group id not above
    /// <paramref name="maxGroupId"/>, a defined state, NSIDs ascending. On failure <paramref name="error"/> names the
    /// field and its offset.
    /// </summary>
    public static bool TryRead(ReadOnlySpan<byte> d, uint maxGroupId, out AnaLogPage? page, out string? error)
    {
        page = null;
        if (d.Length < HeaderSize)
        {
            error = $"ANA log of {d.Length} bytes is shorter than its 16-byte header";
            return false;
        }

        var changeCount = BinaryPrimitives.ReadUInt64LittleEndian(d[ChangeCountOffset..]);
        int count = BinaryPrimitives.ReadUInt16LittleEndian(d[GroupCountOffset..]);
        var groups = new List<AnaGroupDescriptor>(Math.Min(count, 1024));
        var offset = HeaderSize;
        for (var i = 0; i < count; i++)
        {
            if (d.Length - offset < AnaGroupDescriptor.HeaderSize)
            {
                error = $"ANA group descriptor {i} at offset {offset} runs past the {d.Length} bytes read";
                return false;
            }

            var desc = d[offset..];
            var id = BinaryPrimitives.ReadUInt32LittleEndian(desc[AnaGroupDescriptor.GroupIdOffset..]);
            var nsidCount = BinaryPrimitives.ReadUInt32LittleEndian(desc[AnaGroupDescriptor.NsidCountOffset..]);
            var state = (byte)(desc[AnaGroupDescriptor.StateOffset] & 0x0F);

            // NVMe Base 2.0 §8.1.2: ANA group identifiers are 1..ANAGRPMAX; the state is one of Figure 227's values.
            if (id == 0 || id > maxGroupId)
            {
                error = $"ANA group descriptor {i} at offset {offset}: ANAGRPID {id} outside 1..{maxGroupId}";
                return false;
            }

            if (!AnaStates.IsDefined(state))
            {
                error = $"ANA group {id} at offset {offset + AnaGroupDescriptor.StateOffset}: reserved ANA state {state:x2}h";
                return false;
            }

            offset += AnaGroupDescriptor.HeaderSize;
            if (nsidCount > (uint)(d.Length - offset) / 4)
            {
                error = $"ANA group {id} at offset {offset - AnaGroupDescriptor.HeaderSize + AnaGroupDescriptor.NsidCountOffset}: NNSIDS {nsidCount} runs past the {d.Length} bytes read";
                return false;
            }

            var nsids = new uint[nsidCount];
            for (var n = 0; n < nsids.Length; n++)
            {
                nsids[n] = BinaryPrimitives.ReadUInt32LittleEndian(d[(offset + (n * 4))..]);
                if (nsids[n] == 0 || (n > 0 && nsids[n] <= nsids[n - 1]))
                {
                    error = $"ANA group {id} at offset {offset + (n * 4)}: NSID {nsids[n]} is zero or not ascending";
                    return false;
                }
            }

            offset += nsids.Length * 4;
            groups.Add(new AnaGroupDescriptor(id, BinaryPrimitives.ReadUInt64LittleEndian(desc[AnaGroupDescriptor.ChangeCountOffset..]), (AnaState)state, nsids));
        }

        page = new AnaLogPage(changeCount, groups);
        error = null;
        return true;
    }
}
