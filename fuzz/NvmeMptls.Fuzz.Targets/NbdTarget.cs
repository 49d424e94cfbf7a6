using System.Net.Sockets;
using NvmeMptls.Initiator;
using NvmeMptls.Initiator.Nbd;

namespace NvmeMptls.Fuzz;

/// <summary>
/// An NBD export's connection over a Unix socket pair, fed the input as everything a client sends: the client
/// flags, options (EXPORT_NAME, INFO, GO, LIST, STRUCTURED_REPLY…) and then requests with their write payloads,
/// against a 1 MiB memory namespace. The connection must end by itself once the input has, answering or closing —
/// its catch-all's "connection failed" log counts as a finding.
/// </summary>
public static class NbdTarget
{
    private static long s_connections;

    public static void Run(byte[] input) => FuzzTargets.Await(ServeAsync(input), "NBD connection");

    private static async Task ServeAsync(byte[] input)
    {
        var (client, server) = await SocketPairAsync().ConfigureAwait(false);
        using (client)
        {
            var logger = new FindingLogger();
            var export = new NbdExportInfo("fuzz", "fuzz export", FuzzNamespaceDevice.Size, 512, 128 * 1024, ReadOnly: false, MultiConn: true);
            var connection = new NbdConnection(server, new FuzzNamespaceDevice(), new NbdBlockIo(), export, 4, Interlocked.Increment(ref s_connections), logger);
            var run = connection.RunAsync();
            var drain = DrainAsync(client);
            try
            {
                await client.SendAsync(input, SocketFlags.None).ConfigureAwait(false);
                client.Shutdown(SocketShutdown.Send);
            }
            catch (SocketException)
            {
                // the server closed first (a refused option or a bad magic)
            }

            await run.ConfigureAwait(false);
            connection.Dispose();
            await drain.ConfigureAwait(false);
            logger.ThrowIfAny();
        }
    }

    private static async Task DrainAsync(Socket client)
    {
        var buffer = new byte[64 * 1024];
        try
        {
            while (await client.ReceiveAsync(buffer, SocketFlags.None).ConfigureAwait(false) > 0)
            {
            }
        }
        catch (SocketException)
        {
        }
    }

    private static async Task<(Socket Client, Socket Server)> SocketPairAsync()
    {
        using var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        listener.Bind(new UnixDomainSocketEndPoint($"\0nvmemptls-fuzz-nbd-{Environment.ProcessId}-{Interlocked.Increment(ref s_connections)}"));
        listener.Listen(1);
        var client = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        await client.ConnectAsync(listener.LocalEndPoint!).ConfigureAwait(false);
        var server = await listener.AcceptAsync().ConfigureAwait(false);
        return (client, server);
    }
}

/// <summary>A 1 MiB namespace in memory that refuses out-of-range access the way a controller would (an error).</summary>
internal sealed class FuzzNamespaceDevice : INamespaceDevice
{
    public const ulong Size = 1 << 20;

    private readonly byte[] _data = new byte[Size];

    public uint Nsid => 1;

    public int LbaSize => 512;

    public ulong BlockCount => Size / 512;

    public int MaxTransferBytes => 128 * 1024;

    public ValueTask ReadAsync(ulong lba, Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        Range(lba, buffer.Length).CopyTo(buffer.Span);
        return ValueTask.CompletedTask;
    }

    public ValueTask WriteAsync(ulong lba, ReadOnlyMemory<byte> data, bool forceUnitAccess = false, CancellationToken cancellationToken = default)
    {
        data.Span.CopyTo(Range(lba, data.Length));
        return ValueTask.CompletedTask;
    }

    public ValueTask FlushAsync(CancellationToken cancellationToken = default) => ValueTask.CompletedTask;

    public ValueTask WriteZeroesAsync(ulong lba, uint blocks, bool deallocate = false, CancellationToken cancellationToken = default)
    {
        Range(lba, checked((int)(blocks * 512UL))).Clear();
        return ValueTask.CompletedTask;
    }

    public ValueTask DeallocateAsync(ulong lba, uint blocks, CancellationToken cancellationToken = default) =>
        WriteZeroesAsync(lba, blocks, deallocate: true, cancellationToken);

    private Span<byte> Range(ulong lba, int length)
    {
        if (length % 512 != 0 || lba > BlockCount || (ulong)length > (BlockCount - lba) * 512)
        {
            throw new IOException($"LBA {lba} + {length} bytes is outside the namespace or not block-aligned");
        }

        return _data.AsSpan((int)(lba * 512), length);
    }
}
