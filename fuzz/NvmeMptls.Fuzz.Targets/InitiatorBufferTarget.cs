using NvmeMptls.Initiator;
using NvmeMptls.Transport.Nvme;

namespace NvmeMptls.Fuzz;

/// <summary>
/// What the initiator decodes from a controller's data buffers. Input byte 0 picks the structure; the rest is the
/// buffer, cut or zero-padded to the size the initiator reads (4 KiB for Identify pages, the discovery header plus
/// the entries it claims, the ANA log as read), and decoded the way the client does, including its public info records.
/// </summary>
public static class InitiatorBufferTarget
{
    private const int PageSize = 4096;

    public static void Run(byte[] input)
    {
        if (input.Length == 0)
        {
            return;
        }

        var data = input.AsSpan(1);
        switch (input[0] % 6)
        {
            case 0:
                _ = NvmeControllerInfo.From(IdentifyController.Read(Page(data)));
                break;
            case 1:
                _ = NvmeNamespaceInfo.From(IdentifyNamespace.Read(Page(data)));
                break;
            case 2:
                _ = NamespaceDescriptors.Read(Page(data));
                break;
            case 3:
                _ = NamespaceIdList.Read(Page(data), []);
                break;
            case 4:
                ReadDiscoveryLog(data);
                break;
            default:
                // As NvmeController.Apply: a page that fails the checks is refused, never half used.
                _ = AnaLogPage.TryRead(data, 128, out _, out _);
                break;
        }
    }

    private static byte[] Page(ReadOnlySpan<byte> data)
    {
        var page = new byte[PageSize];
        data[..Math.Min(data.Length, PageSize)].CopyTo(page);
        return page;
    }

    /// <summary>As <c>NvmeDiscovery.ReadLogAsync</c>: the header, then at most 1024 records of what follows.</summary>
    private static void ReadDiscoveryLog(ReadOnlySpan<byte> data)
    {
        var header = new byte[DiscoveryLog.HeaderSize];
        data[..Math.Min(data.Length, header.Length)].CopyTo(header);
        var (_, records) = DiscoveryLog.ReadHeader(header);
        if (records > 1024)
        {
            return; // the client refuses such a log with an IOException
        }

        var entries = new byte[(int)records * DiscoveryLogEntry.Size];
        var rest = data[Math.Min(data.Length, header.Length)..];
        rest[..Math.Min(rest.Length, entries.Length)].CopyTo(entries);
        for (var i = 0; i < (int)records; i++)
        {
            _ = NvmeDiscoveryEntry.From(DiscoveryLogEntry.Read(entries.AsSpan(i * DiscoveryLogEntry.Size, DiscoveryLogEntry.Size)));
        }
    }
}
