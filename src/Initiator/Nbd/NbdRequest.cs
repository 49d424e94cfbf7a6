using System.Buffers;
using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using NvmeMptls.Initiator;

namespace NvmeMptls.Initiator.Nbd;

/// <summary>
/// One NBD request from header to reply, pooled per connection. The receive loop fills it and starts it inline
/// (<see cref="Execute"/>, no thread-pool hop); <see cref="ProcessAsync"/> runs the device commands and queues the reply; the connection's sender
/// writes it. Two references keep it alive (processing finished, reply written); the last one returns it.
/// Buffer layout: reply headers are built just before <see cref="Headroom"/> so a header and its data go out in one write.
/// </summary>
internal sealed class NbdRequest : IThreadPoolWorkItem
{
    public const int Headroom = 32;

    private readonly NbdConnection _connection;
    private readonly Action _onProcessed;
    private ConfiguredValueTaskAwaitable.ConfiguredValueTaskAwaiter _awaiter;
    private int _references;

    public NbdRequest(NbdConnection connection, int lbaSize)
    {
        _connection = connection;
        Scratch = new byte[lbaSize];
        _onProcessed = OnProcessed;
    }

    public byte[] Buffer { get; private set; } = [];

    public byte[] Scratch { get; }

    public NbdCommand Command { get; private set; }

    public NbdCommandFlags Flags { get; private set; }

    public ulong Cookie { get; private set; }

    public ulong Offset { get; private set; }

    public uint Length { get; private set; }

    /// <summary>Set before each device command so a failure can be reported with NBD_REPLY_TYPE_ERROR_OFFSET.</summary>
    public ulong ErrorOffset { get; set; }

    /// <summary>Errno decided by the receive loop (e.g. an oversized write whose payload was discarded).</summary>
    public uint PresetError { get; private set; }

    public Memory<byte> Data => Buffer.AsMemory(Headroom, (int)Length);

    public ReadOnlyMemory<byte> Reply { get; private set; }

    public void Reset(NbdCommand command, NbdCommandFlags flags, ulong cookie, ulong offset, uint length, int bufferBytes, uint presetError)
    {
        Command = command;
        Flags = flags;
        Cookie = cookie;
        Offset = offset;
        Length = length;
        PresetError = presetError;
        ErrorOffset = offset;
        Buffer = ArrayPool<byte>.Shared.Rent(Headroom + Math.Max(bufferBytes, Headroom));
        _references = 2;
    }

    public void Execute()
    {
        // The awaiter is kept so its GetResult hands the pooled state machine back; checked for completion first.
#pragma warning disable CA2012
        _awaiter = _connection.ProcessAsync(this).ConfigureAwait(false).GetAwaiter();
#pragma warning restore CA2012
        if (_awaiter.IsCompleted)
        {
            OnProcessed();
        }
        else
        {
            _awaiter.UnsafeOnCompleted(_onProcessed);
        }
    }

    /// <summary>Drops one reference; the second drop returns the buffer and the request to the connection.</summary>
    public void Release()
    {
        if (Interlocked.Decrement(ref _references) == 0)
        {
            ArrayPool<byte>.Shared.Return(Buffer);
            Buffer = [];
            Reply = ReadOnlyMemory<byte>.Empty;
            _connection.Return(this);
        }
    }

    /// <summary>Gives back a request that was read but will never run (its payload did not arrive).</summary>
    public void Abandon()
    {
        _references = 1;
        Release();
    }

    public void SetSimpleReply(uint error, bool withData)
    {
        var start = Headroom - NbdProtocol.SimpleReplyHeaderSize;
        var header = Buffer.AsSpan(start);
        BinaryPrimitives.WriteUInt32BigEndian(header, NbdProtocol.SimpleReplyMagic);
        BinaryPrimitives.WriteUInt32BigEndian(header[4..], error);
        BinaryPrimitives.WriteUInt64BigEndian(header[8..], Cookie);
        Reply = Buffer.AsMemory(start, NbdProtocol.SimpleReplyHeaderSize + (withData ? (int)Length : 0));
    }

    /// <summary>One NBD_REPLY_TYPE_OFFSET_DATA chunk carrying the whole read, flagged DONE.</summary>
    public void SetStructuredData()
    {
        var start = Headroom - NbdProtocol.StructuredReplyHeaderSize - 8;
        var header = Buffer.AsSpan(start);
        WriteChunkHeader(header, NbdReplyType.OffsetData, 8 + Length);
        BinaryPrimitives.WriteUInt64BigEndian(header[20..], Offset);
        Reply = Buffer.AsMemory(start, NbdProtocol.StructuredReplyHeaderSize + 8 + (int)Length);
    }

    public void SetStructuredDone()
    {
        var start = Headroom - NbdProtocol.StructuredReplyHeaderSize;
        WriteChunkHeader(Buffer.AsSpan(start), NbdReplyType.None, 0);
        Reply = Buffer.AsMemory(start, NbdProtocol.StructuredReplyHeaderSize);
    }

    /// <summary>An error chunk without a message; reads name the offset that failed.</summary>
    public void SetStructuredError(uint error, bool withOffset)
    {
        var span = Buffer.AsSpan();
        var payload = withOffset ? 14u : 6u;
        WriteChunkHeader(span, withOffset ? NbdReplyType.ErrorOffset : NbdReplyType.Error, payload);
        BinaryPrimitives.WriteUInt32BigEndian(span[20..], error);
        BinaryPrimitives.WriteUInt16BigEndian(span[24..], 0);
        if (withOffset)
        {
            BinaryPrimitives.WriteUInt64BigEndian(span[26..], ErrorOffset);
        }

        Reply = Buffer.AsMemory(0, NbdProtocol.StructuredReplyHeaderSize + (int)payload);
    }

    private void WriteChunkHeader(Span<byte> header, NbdReplyType type, uint length)
    {
        BinaryPrimitives.WriteUInt32BigEndian(header, NbdProtocol.StructuredReplyMagic);
        BinaryPrimitives.WriteUInt16BigEndian(header[4..], NbdReplyFlags.Done);
        BinaryPrimitives.WriteUInt16BigEndian(header[6..], (ushort)type);
        BinaryPrimitives.WriteUInt64BigEndian(header[8..], Cookie);
        BinaryPrimitives.WriteUInt32BigEndian(header[16..], length);
    }

    private void OnProcessed()
    {
        // ProcessAsync catches everything itself; this only hands the pooled state machine back.
        _awaiter.GetResult();
        _awaiter = default;
        Release();
    }
}
