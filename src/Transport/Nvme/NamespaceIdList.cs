using System.Buffers.Binary;

namespace NvmeMptls.Transport.Nvme;

/// <summary>
/// A 4096-byte list of up to 1024 little-endian u32 NSIDs, ascending and zero-terminated: the Active Namespace ID
/// list (Identify CNS 02h, NSIDs greater than the command's NSID, reference §3.2) and the Changed Namespace List
/// (log page 04h, where a first entry of FFFFFFFFh means more than 1024 changed, reference §3.6).
/// </summary>
public static class NamespaceIdList
{
    public const int Size = 4096;
    public const int MaxEntries = Size / 4;

    /// <summary>Log 04h: more namespaces changed than the list can hold.</summary>
    public const uint Overflow = 0xFFFFFFFF;

    /// <summary>The broadcast NSID: all namespaces (NVMe Base 2.0 §3.2.1.2).</summary>
    public const uint Broadcast = 0xFFFFFFFF;

    /// <summary>Writes entry <paramref name="index"/> (0..1023).</summary>
    public static void Write(Span<byte> list, int index, uint nsid) =>
        BinaryPrimitives.WriteUInt32LittleEndian(list[(index * 4)..], nsid);

    /// <summary>Adds the NSIDs before the first zero entry to <paramref name="nsids"/>; returns how many were added.</summary>
    public static int Read(ReadOnlySpan<byte> list, List<uint> nsids)
    {
        var count = 0;
        for (var i = 0; i + 4 <= list.Length && count < MaxEntries; i += 4)
        {
            var nsid = BinaryPrimitives.ReadUInt32LittleEndian(list[i..]);
            if (nsid == 0)
            {
                break;
            }

            nsids.Add(nsid);
            count++;
        }

        return count;
    }
}
