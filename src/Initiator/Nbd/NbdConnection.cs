using System.Buffers.Binary;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using Microsoft.Extensions.Logging;
using NvmeMptls.Initiator;
using NvmeMptls.Transport.Nvme;

namespace NvmeMptls.Initiator.Nbd;

/// <summary>
/// One NBD client connection in transmission phase. The receive loop reads request headers (and write payloads)
/// and hands each request to the thread pool; many run against the device at once. Replies are written by whichever
/// request finds the sender idle: it drains the reply queue, so writes never interleave and nobody waits on a lock.
/// </summary>
internal sealed class NbdConnection : IDisposable
{
    /// <summary>Replies gathered into one write: 64 KiB holds sixteen 4 KiB read replies with their headers.</summary>
    private const int ReplyBatchBytes = 64 * 1024 + 16 * NbdProtocol.StructuredReplyHeaderSize;

    private readonly Socket _socket;
    private readonly NetworkStream _stream;
    private readonly INamespaceDevice _device;
    private readonly NbdBlockIo _blockIo;
    private readonly NbdExportInfo _export;
    private readonly ILogger _logger;
    private readonly long _id;
    private readonly SemaphoreSlim _slots;
    private readonly int _maxInFlight;
    private readonly Stack<NbdRequest> _pool;
    private readonly Queue<NbdRequest> _replies;
    private readonly byte[] _header = new byte[NbdProtocol.RequestHeaderSize];
    private readonly NbdInputBuffer _input;
    private readonly byte[] _replyBuffer = new byte[ReplyBatchBytes];
    private readonly CancellationTokenSource _receiveStop = new();
    private bool _sending;
    private volatile bool _broken;
    private bool _structured;

    public NbdConnection(Socket socket, INamespaceDevice device, NbdBlockIo blockIo, NbdExportInfo export, int maxInFlight, long id, ILogger logger)
    {
        _socket = socket;
        _stream = new NetworkStream(socket, ownsSocket: true);
        _input = new NbdInputBuffer(_stream);
        _device = device;
        _blockIo = blockIo;
        _export = export;
        _maxInFlight = maxInFlight;
        _id = id;
        _logger = logger;
        _slots = new SemaphoreSlim(maxInFlight, maxInFlight);
        _pool = new Stack<NbdRequest>(maxInFlight);
        _replies = new Queue<NbdRequest>(maxInFlight);
    }

    /// <summary>Stops reading new requests; those already read are still answered.</summary>
    public void StopReceiving() => _receiveStop.Cancel();

    /// <summary>Kills the socket outright (used when a graceful stop takes too long).</summary>
    public void Abort() => _socket.Dispose();

    public async Task RunAsync()
    {
        var reason = "client disconnected";
        try
        {
            var negotiated = await new NbdNegotiation(_stream, _export, _logger).RunAsync(_receiveStop.Token).ConfigureAwait(false);
            if (!negotiated.Transmission)
            {
                reason = negotiated.Reason;
                return;
            }

            _structured = negotiated.StructuredReplies;
            reason = await ReceiveLoopAsync(_receiveStop.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            reason = "server stopping";
        }
        catch (EndOfStreamException)
        {
            reason = "client closed the connection";
        }
        catch (IOException ex) when (ex.InnerException is SocketException || _broken)
        {
            reason = "socket error: " + ex.Message;
        }
        catch (ObjectDisposedException)
        {
            reason = "aborted";
        }
        catch (Exception ex)
        {
            NbdLog.ConnectionFailed(_logger, _id, ex);
            reason = "failed";
        }
        finally
        {
            // Every request read gets its reply (or fails to send on a dead socket) before the socket goes.
            for (var i = 0; i < _maxInFlight; i++)
            {
                await _slots.WaitAsync().ConfigureAwait(false);
            }

            NbdLog.Ended(_logger, _id, reason);
            await _stream.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Called by the server once <see cref="RunAsync"/> has ended and the connection has left its table, so that
    /// <see cref="StopReceiving"/> cannot reach a disposed token source.
    /// </summary>
    public void Dispose()
    {
        _stream.Dispose();
        _receiveStop.Dispose();
        _slots.Dispose();
    }

    private async Task<string> ReceiveLoopAsync(CancellationToken cancellationToken)
    {
        while (!_broken)
        {
            await _input.ReadExactlyAsync(_header, cancellationToken).ConfigureAwait(false);
            var header = _header.AsSpan();
            if (BinaryPrimitives.ReadUInt32BigEndian(header) != NbdProtocol.RequestMagic)
            {
                NbdLog.ProtocolViolation(_logger, _id, "bad request magic");
                return "bad request magic";
            }

            var flags = (NbdCommandFlags)BinaryPrimitives.ReadUInt16BigEndian(header[4..]);
            var command = (NbdCommand)BinaryPrimitives.ReadUInt16BigEndian(header[6..]);
            var cookie = BinaryPrimitives.ReadUInt64BigEndian(header[8..]);
            var offset = BinaryPrimitives.ReadUInt64BigEndian(header[16..]);
            var length = BinaryPrimitives.ReadUInt32BigEndian(header[24..]);
            if (command == NbdCommand.Disconnect)
            {
                return "client sent NBD_CMD_DISC";
            }

            await _slots.WaitAsync(cancellationToken).ConfigureAwait(false);
            var request = Rent();
            // The maximum block size bounds payloads only; trim and write-zeroes may cover more (proto.md "Block size constraints").
            var carriesData = command is NbdCommand.Read or NbdCommand.Write;
            var fits = !carriesData || length <= (uint)_export.MaxRequestBytes;
            request.Reset(command, flags, cookie, offset, length, fits && carriesData ? (int)length : 0, fits ? NbdError.None : NbdError.EINVAL);
            if (command == NbdCommand.Write)
            {
                try
                {
                    if (fits)
                    {
                        await _input.ReadExactlyAsync(request.Data, cancellationToken).ConfigureAwait(false);
                    }
                    else
                    {
                        // proto.md lets a server close on an oversized payload; discarding it keeps the connection usable.
                        await DiscardAsync(length, cancellationToken).ConfigureAwait(false);
                    }
                }
                catch
                {
                    // The client went away inside the payload: the request never runs, so its slot goes back here —
                    // RunAsync waits for every slot before it ends, and would otherwise wait forever.
                    request.Abandon();
                    throw;
                }
            }

            // Start the request right here: the device call submits and returns at its first await (the NVMe
            // namespace) or finishes at once (memory), and the reply usually goes out synchronously. A thread-pool hop
            // per request cost a wake-up and a context switch each, which on a loaded 2-core box was most of the latency.
            request.Execute();
        }

        return "reply could not be sent";
    }

    /// <summary>Runs one request against the device and queues its reply. Never throws.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    public async ValueTask ProcessAsync(NbdRequest request)
    {
        var error = request.PresetError;
        if (error == NbdError.None)
        {
            error = Validate(request);
        }

        if (error == NbdError.None)
        {
            try
            {
                switch (request.Command)
                {
                    case NbdCommand.Read:
                        await NbdBlockIo.ReadAsync(_device, request, CancellationToken.None).ConfigureAwait(false);
                        break;
                    case NbdCommand.Write:
                        await _blockIo.WriteAsync(_device, request, zeroes: false, CancellationToken.None).ConfigureAwait(false);
                        break;
                    case NbdCommand.WriteZeroes:
                        await _blockIo.WriteAsync(_device, request, zeroes: true, CancellationToken.None).ConfigureAwait(false);
                        break;
                    case NbdCommand.Trim:
                        await NbdBlockIo.TrimAsync(_device, request, CancellationToken.None).ConfigureAwait(false);
                        break;
                    case NbdCommand.Flush:
                        await _device.FlushAsync(CancellationToken.None).ConfigureAwait(false);
                        break;
                    default:
                        error = NbdError.EINVAL;
                        break;
                }
            }
            catch (Exception ex)
            {
                error = ToErrno(ex);
                NbdLog.RequestFailed(_logger, CommandName(request.Command), request.Offset, request.Length, error, ex);
            }
        }

        BuildReply(request, error);
        if (EnqueueReply(request))
        {
            await SendRepliesAsync().ConfigureAwait(false);
        }
    }

    /// <summary>Checks a request against the export before any device command (proto.md "Request types", "Error values").</summary>
    private uint Validate(NbdRequest request)
    {
        var allowed = NbdCommandFlags.Fua | NbdCommandFlags.NoHole | (_structured ? NbdCommandFlags.DontFragment : NbdCommandFlags.None);
        if ((request.Flags & ~allowed) != 0)
        {
            return NbdError.EINVAL;
        }

        var writes = request.Command is NbdCommand.Write or NbdCommand.WriteZeroes or NbdCommand.Trim;
        if (request.Command is not (NbdCommand.Read or NbdCommand.Flush) && !writes)
        {
            return NbdError.EINVAL;
        }

        if (writes && _export.ReadOnly)
        {
            return NbdError.EPERM;
        }

        if (request.Command != NbdCommand.Flush
            && (request.Offset > _export.Size || request.Length > _export.Size - request.Offset))
        {
            // The spec asks ENOSPC for writes past the end, EINVAL for anything else out of range.
            return writes ? NbdError.ENOSPC : NbdError.EINVAL;
        }

        return NbdError.None;
    }

    private void BuildReply(NbdRequest request, uint error)
    {
        var isRead = request.Command == NbdCommand.Read;
        if (!_structured)
        {
            request.SetSimpleReply(error, withData: isRead && error == NbdError.None);
        }
        else if (error != NbdError.None)
        {
            request.SetStructuredError(error, withOffset: isRead && request.Length > 0);
        }
        else if (isRead && request.Length > 0)
        {
            request.SetStructuredData();
        }
        else
        {
            request.SetStructuredDone();
        }
    }

    private bool EnqueueReply(NbdRequest request)
    {
        lock (_replies)
        {
            _replies.Enqueue(request);
            if (_sending)
            {
                return false;
            }

            _sending = true;
            return true;
        }
    }

    /// <summary>
    /// Drains the reply queue. Replies waiting together are copied into one buffer and leave in one write (at QD16 a
    /// burst of completions used to cost one syscall each); a reply bigger than the buffer goes out on its own.
    /// </summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask SendRepliesAsync()
    {
        while (true)
        {
            var batched = 0;
            NbdRequest? large = null;
            lock (_replies)
            {
                while (_replies.TryPeek(out var next))
                {
                    var length = next.Reply.Length;
                    if (length > _replyBuffer.Length - batched)
                    {
                        if (batched == 0)
                        {
                            large = _replies.Dequeue();
                        }

                        break;
                    }

                    _replies.Dequeue();
                    next.Reply.Span.CopyTo(_replyBuffer.AsSpan(batched));
                    batched += length;
                    next.Release();
                }

                if (batched == 0 && large is null)
                {
                    _sending = false;
                    return;
                }
            }

            await WriteReplyAsync(large is null ? _replyBuffer.AsMemory(0, batched) : large.Reply).ConfigureAwait(false);
            large?.Release();
        }
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask WriteReplyAsync(ReadOnlyMemory<byte> bytes)
    {
        if (_broken)
        {
            return;
        }

        try
        {
            await _stream.WriteAsync(bytes, CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or ObjectDisposedException or SocketException)
        {
            _broken = true;
            TryCancelReceive();
        }
    }

    private void TryCancelReceive()
    {
        try
        {
            _receiveStop.Cancel();
        }
        catch (ObjectDisposedException)
        {
            // The connection is already finishing.
        }
    }

    private NbdRequest Rent()
    {
        lock (_pool)
        {
            if (_pool.TryPop(out var request))
            {
                return request;
            }
        }

        return new NbdRequest(this, _device.LbaSize);
    }

    public void Return(NbdRequest request)
    {
        lock (_pool)
        {
            _pool.Push(request);
        }

        _slots.Release();
    }

    private async ValueTask DiscardAsync(uint length, CancellationToken cancellationToken)
    {
        var scratch = new byte[64 * 1024];
        var left = (long)length;
        while (left > 0)
        {
            var chunk = (int)Math.Min(left, scratch.Length);
            await _input.ReadExactlyAsync(scratch.AsMemory(0, chunk), cancellationToken).ConfigureAwait(false);
            left -= chunk;
        }
    }

    /// <summary>NVMe status to NBD errno: media errors are EIO, range errors ENOSPC, write protection EPERM.</summary>
    internal static uint ToErrno(Exception exception) => (uint)Errno.FromException(exception);

    private static string CommandName(NbdCommand command) => command switch
    {
        NbdCommand.Read => "READ",
        NbdCommand.Write => "WRITE",
        NbdCommand.Flush => "FLUSH",
        NbdCommand.Trim => "TRIM",
        NbdCommand.WriteZeroes => "WRITE_ZEROES",
        _ => "command",
    };
}
