using NvmeMptls.Transport.Nvme;

namespace NvmeMptls.Initiator;

/// <summary>Admin commands for applications and tools. Each throws <see cref="NvmeStatusException"/> on an error status.</summary>
public sealed partial class NvmeController
{
    /// <summary>Identify Controller (CNS 01h), read fresh from the controller.</summary>
    public async Task<NvmeControllerInfo> IdentifyControllerAsync(CancellationToken cancellationToken = default) =>
        NvmeControllerInfo.From(IdentifyController.Read(await IdentifyRawAsync(IdentifyCns.Controller, 0, cancellationToken).ConfigureAwait(false)));

    /// <summary>Identify Namespace (CNS 00h). An inactive NSID reads as all zeroes (BlockCount 0).</summary>
    public async Task<NvmeNamespaceInfo> IdentifyNamespaceAsync(uint nsid, CancellationToken cancellationToken = default) =>
        NvmeNamespaceInfo.From(IdentifyNamespace.Read(await IdentifyRawAsync(IdentifyCns.Namespace, nsid, cancellationToken).ConfigureAwait(false)));

    /// <summary>Any Identify data structure (4096 bytes), raw.</summary>
    public async Task<byte[]> IdentifyRawAsync(byte cns, uint nsid, CancellationToken cancellationToken = default)
    {
        var data = new byte[IdentifyCns.DataSize];
        await AdminAsync(Commands.Identify(cns, nsid), data, "Identify", cancellationToken).ConfigureAwait(false);
        return data;
    }

    /// <summary>All active NSIDs in ascending order (CNS 02h, paged by 1024).</summary>
    public async Task<IReadOnlyList<uint>> GetActiveNamespacesAsync(CancellationToken cancellationToken = default)
    {
        var result = new List<uint>();
        uint after = 0;
        while (true)
        {
            var page = await IdentifyRawAsync(IdentifyCns.ActiveNamespaceList, after, cancellationToken).ConfigureAwait(false);
            var count = NamespaceIdList.Read(page, result);
            if (count > 0)
            {
                after = result[^1];
            }

            if (count < NamespaceIdList.MaxEntries || after >= 0xFFFFFFFE)
            {
                return result;
            }
        }
    }

    /// <summary>Namespace Identification Descriptors (CNS 03h).</summary>
    public async Task<NamespaceIdentifiers> GetNamespaceDescriptorsAsync(uint nsid, CancellationToken cancellationToken = default) =>
        NamespaceIdentifiers.Parse(await IdentifyRawAsync(IdentifyCns.NamespaceDescriptorList, nsid, cancellationToken).ConfigureAwait(false));

    /// <summary>Reads <paramref name="length"/> bytes (a multiple of 4) of log page <paramref name="logId"/> from byte <paramref name="offset"/>.</summary>
    public async Task<byte[]> GetLogPageAsync(byte logId, uint nsid, ulong offset, int length, CancellationToken cancellationToken)
    {
        var data = new byte[length];
        await GetLogPageAsync(logId, nsid, offset, data, retainAsyncEvent: false, cancellationToken).ConfigureAwait(false);
        return data;
    }

    /// <summary>Reads a log page into <paramref name="destination"/> (length a multiple of 4, at least 4).</summary>
    public async Task GetLogPageAsync(byte logId, uint nsid, ulong offset, Memory<byte> destination, bool retainAsyncEvent, CancellationToken cancellationToken)
    {
        if (destination.Length < 4 || destination.Length % 4 != 0)
        {
            throw new ArgumentException($"log page length {destination.Length} must be a positive multiple of 4", nameof(destination));
        }

        await AdminAsync(Commands.GetLogPage(logId, nsid, offset, destination.Length, retainAsyncEvent), destination, "Get Log Page", cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Get Features: returns CQE DW0 (the current value unless <paramref name="select"/> says otherwise).</summary>
    public async Task<uint> GetFeatureAsync(byte featureId, uint cdw11 = 0, uint nsid = 0, byte select = 0, CancellationToken cancellationToken = default) =>
        (await AdminAsync(Commands.GetFeatures(featureId, cdw11, nsid, select), default, "Get Features", cancellationToken).ConfigureAwait(false)).Dw0;

    /// <summary>Set Features: returns CQE DW0.</summary>
    public async Task<uint> SetFeatureAsync(byte featureId, uint value, uint nsid = 0, CancellationToken cancellationToken = default) =>
        (await AdminAsync(Commands.SetFeatures(featureId, value, nsid), default, "Set Features", cancellationToken).ConfigureAwait(false)).Dw0;

    /// <summary>Opens a namespace as a block device (Identify Namespace; fails for an inactive NSID).</summary>
    public async Task<NvmeNamespace> OpenNamespaceAsync(uint nsid, CancellationToken cancellationToken = default)
    {
        var identify = await IdentifyNamespaceAsync(nsid, cancellationToken).ConfigureAwait(false);
        if (identify.BlockCount == 0)
        {
            throw new NvmeStatusException(NvmeStatus.Make(0, (byte)NvmeStatusCodes.InvalidNamespace, dnr: true), $"namespace {nsid} is not active");
        }

        if (identify.LbaSize == 0)
        {
            // A hostile or broken controller: a shift of 31 or more would make the block size negative.
            throw new InvalidDataException($"namespace {nsid} reports an LBA data size outside 2^{NvmeNamespaceInfo.MinLbaShift}..2^{NvmeNamespaceInfo.MaxLbaShift} bytes; it cannot be opened");
        }

        if (IoQueueCount == 0)
        {
            throw new InvalidOperationException("the controller has no I/O queues");
        }

        return new NvmeNamespace(this, nsid, identify);
    }

    private async Task<NvmeCompletion> AdminAsync(NvmeCommand command, Memory<byte> readBuffer, string what, CancellationToken cancellationToken)
    {
        var completion = await SubmitAsync(-1, command, readBuffer, default, cancellationToken).ConfigureAwait(false);
        return completion.Status.IsSuccess ? completion : throw new NvmeStatusException(completion.Status, what);
    }
}
