namespace NvmeMptls.Transport.Connections;

/// <summary>
/// Receive placement: the next bytes the socket yields go straight into memory the reader owns instead of through the
/// input pipe, so the data of a large H2CData or C2HData PDU lands in its command's buffer once (SPDK reads such data
/// into the request's iovecs the same way). A placement is possible only while the reader runs inline in the receive
/// loop (<see cref="Sockets.SocketConnectionOptions.InlineReaders"/>) and has consumed every byte the pipe held: then the
/// loop has received nothing the reader has not seen, and the placed bytes are exactly the next bytes of the stream.
/// </summary>
public interface IReceivePlacement
{
    /// <summary>
    /// Asks that the next <paramref name="destination"/>.Length received bytes be written to <paramref name="destination"/>.
    /// The caller must have consumed everything its input pipe held. False when that cannot be promised now (the caller
    /// does not run inline in the receive loop, placement is off, kTLS owns the socket, the connection is closing): read
    /// from the pipe as usual. When true, <paramref name="placed"/> completes once the destination is full, or faults with
    /// what ended the stream (<see cref="EndOfStreamException"/> if the peer closed first), or with
    /// <see cref="OperationCanceledException"/> once <paramref name="cancellationToken"/> is cancelled and the receive
    /// into the destination has stopped. Until it completes the destination may be written, so the caller keeps it and
    /// does not read the pipe; after a cancellation the stream is cut inside a PDU and no later placement is granted.
    /// </summary>
    bool TryPlace(Memory<byte> destination, CancellationToken cancellationToken, out ValueTask placed);
}
