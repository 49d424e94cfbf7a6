using System.Net.Sockets;
using System.Runtime.CompilerServices;

namespace NvmeMptls.Initiator.Nbd;

/// <summary>
/// Buffered reads of the transmission phase. fio and the kernel send several requests back to back; reading each
/// 28-byte header with its own receive call cost one syscall per request, while one receive into this buffer
/// usually brings several headers (and small write payloads) at once. A payload larger than half the buffer is read
/// straight into its destination after the buffered bytes, so big writes are not copied twice.
/// </summary>
internal sealed class NbdInputBuffer
{
    private readonly NetworkStream _stream;
    private readonly byte[] _buffer;
    private int _start;
    private int _end;

    public NbdInputBuffer(NetworkStream stream, int size = 64 * 1024)
    {
        _stream = stream;
        _buffer = new byte[size];
    }

    /// <summary>Fills <paramref name="destination"/> completely; <see cref="EndOfStreamException"/> if the peer closes first.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    public async ValueTask ReadExactlyAsync(Memory<byte> destination, CancellationToken cancellationToken)
    {
        var done = Take(destination.Span);
        while (done < destination.Length)
        {
            var left = destination.Length - done;
            if (left >= _buffer.Length / 2)
            {
                var read = await _stream.ReadAsync(destination[done..], cancellationToken).ConfigureAwait(false);
                if (read == 0)
                {
                    throw new EndOfStreamException();
                }

                done += read;
                continue;
            }

            var received = await _stream.ReadAsync(_buffer.AsMemory(), cancellationToken).ConfigureAwait(false);
            if (received == 0)
            {
                throw new EndOfStreamException();
            }

            _start = 0;
            _end = received;
            done += Take(destination.Span[done..]);
        }
    }

    private int Take(Span<byte> destination)
    {
        var count = Math.Min(destination.Length, _end - _start);
        _buffer.AsSpan(_start, count).CopyTo(destination);
        _start += count;
        return count;
    }
}
