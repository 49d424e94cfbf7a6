using NvmeMptls.Initiator;

namespace NvmeMptls.Cli.Commands;

/// <summary><c>read</c>, <c>write</c>, <c>flush</c>: nvme-cli's spelling (-s start block, -c 0's based block count, -z bytes, -d file).</summary>
public static class IoCommands
{
    private static List<OptionSpec> IoOptions() =>
    [
        .. FabricsOptions.Common(portShort: false), FabricsOptions.NamespaceId,
        new("start-block", 's', true, "first LBA", "LBA"),
        new("block-count", 'c', true, "blocks to transfer, 0's based (0 = one block); up to 1 GiB, split into MDTS-sized commands", "N"),
        new("data-size", 'z', true, "bytes to transfer (default (block-count+1) x LBA size)", "BYTES"),
        new("data", 'd', true, "file to read from (write) or write to (read); stdin/stdout when absent", "FILE"),
        new("force-unit-access", 'f', false, "FUA (write)"),
    ];

    public static Verb Read { get; } = new("read", "read blocks to a file or stdout", IoOptions(), ReadAsync);

    public static Verb Write { get; } = new("write", "write blocks from a file or stdin", IoOptions(), WriteAsync);

    public static Verb Flush { get; } = new("flush", "flush the namespace's volatile write cache",
        [.. FabricsOptions.Common(), FabricsOptions.NamespaceId], FlushAsync);

    private static async Task<int> ReadAsync(VerbContext context, CancellationToken cancellationToken)
    {
        var controller = await Session.ConnectIoAsync(context, cancellationToken).ConfigureAwait(false);
        await using (controller.ConfigureAwait(false))
        {
            var ns = await controller.OpenNamespaceAsync(FabricsOptions.Nsid(context.Options), cancellationToken).ConfigureAwait(false);
            var (lba, bytes) = Range(context.Options, ns);
            var buffer = new byte[bytes];
            for (var done = 0; done < bytes;)
            {
                var n = Math.Min(ns.MaxTransferBytes, bytes - done);
                await ns.ReadAsync(lba + (ulong)(done / ns.LbaSize), buffer.AsMemory(done, n), cancellationToken).ConfigureAwait(false);
                done += n;
            }

            var size = (int)context.Options.GetNumber("data-size", bytes, 1, bytes);
            var path = context.Options.Get("data");
            if (path is null)
            {
                await context.StandardOutput.WriteAsync(buffer.AsMemory(0, size), cancellationToken).ConfigureAwait(false);
                await context.StandardOutput.FlushAsync(cancellationToken).ConfigureAwait(false);
            }
            else
            {
                await File.WriteAllBytesAsync(path, buffer.AsMemory(0, size).ToArray(), cancellationToken).ConfigureAwait(false);
                await context.Error.WriteLineAsync("read: Success").ConfigureAwait(false);
            }

            return 0;
        }
    }

    private static async Task<int> WriteAsync(VerbContext context, CancellationToken cancellationToken)
    {
        var path = context.Options.Get("data");
        byte[] input;
        if (path is null)
        {
            using var copy = new MemoryStream();
            await context.StandardInput.CopyToAsync(copy, cancellationToken).ConfigureAwait(false);
            input = copy.ToArray();
        }
        else
        {
            input = await File.ReadAllBytesAsync(path, cancellationToken).ConfigureAwait(false);
        }

        var controller = await Session.ConnectIoAsync(context, cancellationToken).ConfigureAwait(false);
        await using (controller.ConfigureAwait(false))
        {
            var ns = await controller.OpenNamespaceAsync(FabricsOptions.Nsid(context.Options), cancellationToken).ConfigureAwait(false);
            var (lba, bytes) = Range(context.Options, ns);
            var size = (int)context.Options.GetNumber("data-size", Math.Min(bytes, input.Length), 0, bytes);
            if (size > input.Length)
            {
                throw new UsageException($"--data-size {size} is more than the {input.Length} bytes of input");
            }

            var buffer = new byte[bytes];
            input.AsSpan(0, size).CopyTo(buffer);
            var fua = context.Options.Has("force-unit-access");
            for (var done = 0; done < bytes;)
            {
                var n = Math.Min(ns.MaxTransferBytes, bytes - done);
                await ns.WriteAsync(lba + (ulong)(done / ns.LbaSize), buffer.AsMemory(done, n), fua, cancellationToken).ConfigureAwait(false);
                done += n;
            }

            await context.Error.WriteLineAsync("write: Success").ConfigureAwait(false);
            return 0;
        }
    }

    private static async Task<int> FlushAsync(VerbContext context, CancellationToken cancellationToken)
    {
        var controller = await Session.ConnectIoAsync(context, cancellationToken).ConfigureAwait(false);
        await using (controller.ConfigureAwait(false))
        {
            var ns = await controller.OpenNamespaceAsync(FabricsOptions.Nsid(context.Options), cancellationToken).ConfigureAwait(false);
            await ns.FlushAsync(cancellationToken).ConfigureAwait(false);
            await context.Error.WriteLineAsync($"NVMe Flush: success (nsid {ns.Nsid})").ConfigureAwait(false);
            return 0;
        }
    }

    /// <summary>Start LBA and byte count, checked against the namespace: like nvme-cli, -c is 0's based.</summary>
    private static (ulong Lba, int Bytes) Range(CommandLine line, NvmeNamespace ns)
    {
        var lba = (ulong)line.GetNumber("start-block", 0, 0);
        long blocks;
        if (line.Has("block-count"))
        {
            // Unlike nvme-cli (one command, NLB ≤ 65535), larger counts are split into MDTS-sized commands.
            blocks = line.GetNumber("block-count", 0, 0, (1L << 30) / ns.LbaSize - 1) + 1;
        }
        else if (line.Has("data-size"))
        {
            var size = line.GetNumber("data-size", 0, 1, 1L << 30);
            blocks = (size + ns.LbaSize - 1) / ns.LbaSize;
        }
        else
        {
            blocks = 1;
        }

        if (lba + (ulong)blocks > ns.BlockCount)
        {
            throw new UsageException($"blocks {lba}..{lba + (ulong)blocks - 1} are beyond the namespace's {ns.BlockCount} blocks");
        }

        return (lba, checked((int)(blocks * ns.LbaSize)));
    }
}
