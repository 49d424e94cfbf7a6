namespace NvmeMptls.Transport.Sockets;

/// <summary>Buffering of one socket connection. The pause thresholds are the back-pressure points.</summary>
public sealed record SocketConnectionOptions
{
    public static SocketConnectionOptions Default { get; } = new();

    /// <summary>Bytes received but not yet read by the application at which the receive loop stops reading the socket.</summary>
    public long InputPauseThreshold { get; init; } = 1 << 20;
    public long InputResumeThreshold { get; init; } = 1 << 19;
    /// <summary>Bytes written by the application but not yet sent at which Output.FlushAsync waits.</summary>
    public long OutputPauseThreshold { get; init; } = 1 << 20;
    public long OutputResumeThreshold { get; init; } = 1 << 19;
    /// <summary>
    /// Smallest segment of the send pipe. The send loop makes one send call per segment, so segments much larger than
    /// a PDU let consecutive PDUs (a C2HData header, its 4 KiB of data and the response after it) leave in one
    /// syscall instead of one per 4 KiB (the pipe's default segment). Measured with bench/NvmeMptls.Bench:
    /// 4 KiB QD32 reads over loopback TCP went from ~88k to ~170k IOPS. 256 KiB rather than 64 KiB: a queue's burst at
    /// QD32 (32 capsules with 4 KiB of in-capsule data, or 32 reads' data and responses) is about 130 KiB and went out
    /// in three sends; in one it is what spdk_nvme_perf does (one send per burst), and against SPDK's target our
    /// initiator spent 0.77-0.89x the CPU per 4 KiB write, our target under spdk_nvme_perf 0.85-1.00x per 4 KiB read
    /// (bench/results/send-segment-20261207.md). A segment is rented while bytes wait to be sent or a writer holds
    /// memory it has not flushed, and goes back to the pool when the send loop has consumed it; a connection whose
    /// peer stops reading holds at least one, so such a connection holds 256 KiB where it held 64 KiB, and at most
    /// <see cref="OutputPauseThreshold"/> plus one segment.
    /// </summary>
    public int SendSegmentSize { get; init; } = 256 * 1024;
    /// <summary>
    /// Size of a new receive buffer segment. Receives fill a segment before the next is rented, so the memory a
    /// connection holds is what it has buffered plus at most one segment, however small the peer's segments are.
    /// </summary>
    public int ReceiveSegmentSize { get; init; } = 16 * 1024;
    /// <summary>
    /// Smallest buffer handed to one receive call: when less than this is free at the end of the last segment, the
    /// next receive goes into a new segment.
    /// </summary>
    public int MinReceiveSize { get; init; } = 512;
    /// <summary>
    /// Buffer asked for by the receive after one that filled its whole buffer (more bytes are likely waiting): a
    /// burst of PDUs, or 128 KiB of data, then comes in one receive call instead of one per 16 KiB segment. A receive
    /// that comes back short goes back to <see cref="MinReceiveSize"/>, so an idle or drip-fed connection never holds
    /// more than its <see cref="ReceiveSegmentSize"/> segment; a peer gets a large buffer only by sending that many
    /// bytes. Measured (bench/ab-compare.sh, inline completions, 128 KiB against 16 KiB receives): 128 KiB read QD16
    /// 1.9–2.8× the IOPS, 128 KiB write 1.3–1.6×, 4 KiB randread QD32 1.4×.
    /// </summary>
    public int BurstReceiveSize { get; init; } = 128 * 1024;
    /// <summary>
    /// Runs the application's reader of Input on the thread that received the bytes, and the send loop on the thread
    /// that flushed Output, instead of handing each over to the thread pool. For a protocol loop that answers a burst
    /// inline (<see cref="Connections.BurstEndReader"/>): receive, execute and send then stay on one thread. The
    /// application must not block in its reader: it would hold up this connection's receive loop.
    /// </summary>
    public bool InlineReaders { get; init; }

    /// <summary>
    /// Lets a reader that runs inline (<see cref="InlineReaders"/>) have the rest of a large PDU's data received straight
    /// into its own buffer, past the input pipe (<see cref="Connections.IReceivePlacement"/>): the data of a 128 KiB read
    /// is copied once, by the kernel, instead of into a pipe segment and then again into the command's buffer. It applies
    /// only where the reader is given the connection's placement: the initiator's queues do that, the target's do not
    /// (measured: 0.87–0.95× the initiator's CPU per 128 KiB read, nothing gained at the target's 128 KiB write, where the
    /// calls it adds cost what the copy did; bench/results/receive-placement-20261207.md). On by default.
    /// </summary>
    public bool PlaceReceives { get; init; } = true;

    /// <summary>
    /// Busy-polling before each receive that would wait (zero: off, the default). The receive loop checks the socket for
    /// bytes without sleeping for up to this long before it waits in epoll: an answer that comes back within it is read
    /// without the sleep and wake-up of a thread, which is most of a small request's round trip over loopback or a fast
    /// network (SPDK's reactor polls its sockets all the time for the same reason). It costs CPU: the thread that runs the
    /// receive loop (with <see cref="InlineReaders"/> the socket engine's thread, which serves other sockets too) spins
    /// meanwhile. A latency setting for a connection at low queue depth on a core of its own; 10–50 µs covers a loopback
    /// round trip.
    /// </summary>
    public TimeSpan ReceivePoll { get; init; }

    /// <summary>How long DisposeAsync waits for unsent bytes to leave before it aborts the connection.</summary>
    public TimeSpan DisposeFlushTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>The longest <see cref="ReceivePoll"/> accepted: past this, sleeping in the kernel costs less than spinning.</summary>
    public static readonly TimeSpan MaxReceivePoll = TimeSpan.FromMilliseconds(10);

    /// <summary>Throws naming the first bad key.</summary>
    public SocketConnectionOptions Validate()
    {
        if (InputPauseThreshold <= 0 || InputResumeThreshold <= 0 || InputResumeThreshold > InputPauseThreshold)
            throw new ArgumentException($"{nameof(InputResumeThreshold)} ({InputResumeThreshold}) must be > 0 and <= {nameof(InputPauseThreshold)} ({InputPauseThreshold})");
        if (OutputPauseThreshold <= 0 || OutputResumeThreshold <= 0 || OutputResumeThreshold > OutputPauseThreshold)
            throw new ArgumentException($"{nameof(OutputResumeThreshold)} ({OutputResumeThreshold}) must be > 0 and <= {nameof(OutputPauseThreshold)} ({OutputPauseThreshold})");
        if (SendSegmentSize is < 4096 or > 1 << 20)
            throw new ArgumentException($"{nameof(SendSegmentSize)} must be 4096..1048576, not {SendSegmentSize}");
        if (ReceiveSegmentSize is < 4096 or > 1 << 20)
            throw new ArgumentException($"{nameof(ReceiveSegmentSize)} must be 4096..1048576, not {ReceiveSegmentSize}");
        if (MinReceiveSize < 1 || MinReceiveSize > ReceiveSegmentSize)
            throw new ArgumentException($"{nameof(MinReceiveSize)} must be 1..{nameof(ReceiveSegmentSize)} ({ReceiveSegmentSize}), not {MinReceiveSize}");
        if (BurstReceiveSize < MinReceiveSize || BurstReceiveSize > 1 << 20)
            throw new ArgumentException($"{nameof(BurstReceiveSize)} must be {nameof(MinReceiveSize)} ({MinReceiveSize})..1048576, not {BurstReceiveSize}");
        if (ReceivePoll < TimeSpan.Zero || ReceivePoll > MaxReceivePoll)
            throw new ArgumentException($"{nameof(ReceivePoll)} must be 0..{MaxReceivePoll.TotalMilliseconds} ms, not {ReceivePoll.TotalMicroseconds} µs");
        if (DisposeFlushTimeout < TimeSpan.Zero)
            throw new ArgumentException($"{nameof(DisposeFlushTimeout)} must not be negative");
        return this;
    }
}
