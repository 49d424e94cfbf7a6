using Microsoft.Extensions.Logging;
using NvmeMptls.Transport.Nvme;

namespace NvmeMptls.Initiator;

/// <summary>Reads a discovery controller's log page (70h) the way libnvme does.</summary>
public static class NvmeDiscovery
{
    private const int HeaderPrefix = 20;
    private const int ChunkBytes = 4096;
    private const int MaxAttempts = 10;

    /// <summary>
    /// Connects to the discovery controller (<see cref="NvmeControllerOptions.SubsystemNqn"/>, or the well-known
    /// discovery NQN when empty), reads the whole log and disconnects.
    /// </summary>
    /// <exception cref="IOException">The log kept changing over 10 attempts, or the connection failed.</exception>
    public static async Task<IReadOnlyList<NvmeDiscoveryEntry>> GetLogAsync(
        NvmeControllerOptions options, NvmeQueueConnector? connectionFactory = null, ILogger? logger = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        var discovery = options with
        {
            SubsystemNqn = string.IsNullOrEmpty(options.SubsystemNqn) ? WellKnownNqns.Discovery : options.SubsystemNqn,
            IoQueueCount = 0,
            KeepAliveTimeout = TimeSpan.Zero,
            ControllerLossTimeout = TimeSpan.Zero,
        };
        var controller = await NvmeController.ConnectAsync(discovery, connectionFactory, logger, cancellationToken).ConfigureAwait(false);
        await using (controller.ConfigureAwait(false))
        {
            return await ReadLogAsync(controller, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Reads the discovery log from a connected discovery controller: the 20-byte header, the entries from
    /// LPO 1024 in chunks of at most 4 KiB, then the header again, retrying while GENCTR changes (reference §3.7).
    /// </summary>
    public static async Task<IReadOnlyList<NvmeDiscoveryEntry>> ReadLogAsync(NvmeController controller, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(controller);
        var header = new byte[HeaderPrefix];
        for (var attempt = 0; attempt < MaxAttempts; attempt++)
        {
            await controller.GetLogPageAsync(LogPageIds.Discovery, 0, 0, header, retainAsyncEvent: true, cancellationToken).ConfigureAwait(false);
            var (generation, records) = DiscoveryLog.ReadHeader(header);
            if (records > 1024)
            {
                throw new IOException($"discovery log claims {records} records");
            }

            var entries = new byte[(int)records * DiscoveryLogEntry.Size];
            for (var offset = 0; offset < entries.Length; offset += ChunkBytes)
            {
                var length = Math.Min(ChunkBytes, entries.Length - offset);
                var last = offset + length == entries.Length;
                await controller.GetLogPageAsync(LogPageIds.Discovery, 0, (ulong)(DiscoveryLog.HeaderSize + offset), entries.AsMemory(offset, length), retainAsyncEvent: !last, cancellationToken).ConfigureAwait(false);
            }

            await controller.GetLogPageAsync(LogPageIds.Discovery, 0, 0, header, retainAsyncEvent: false, cancellationToken).ConfigureAwait(false);
            var (after, _) = DiscoveryLog.ReadHeader(header);
            if (after != generation)
            {
                continue;
            }

            var result = new NvmeDiscoveryEntry[(int)records];
            for (var i = 0; i < result.Length; i++)
            {
                result[i] = NvmeDiscoveryEntry.From(DiscoveryLogEntry.Read(entries.AsSpan(i * DiscoveryLogEntry.Size, DiscoveryLogEntry.Size)));
            }

            return result;
        }

        throw new IOException($"discovery log generation kept changing over {MaxAttempts} reads");
    }
}
