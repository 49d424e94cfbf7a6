using System.Buffers.Binary;
using System.Text;
using Microsoft.Extensions.Logging;

namespace NvmeMptls.Initiator.Nbd;

/// <summary>What one export looks like to the client during negotiation.</summary>
internal sealed record NbdExportInfo(
    string Name,
    string Description,
    ulong Size,
    int LbaSize,
    int MaxRequestBytes,
    bool ReadOnly,
    bool MultiConn)
{
    /// <summary>
    /// Unaligned requests are served by read-modify-write, so any byte granularity is accepted (minimum 1);
    /// the preferred size avoids that path. The maximum is the largest request the server buffers.
    /// </summary>
    public const uint MinimumBlockSize = 1;

    public uint PreferredBlockSize => (uint)Math.Max(LbaSize, 4096);

    public NbdTransmissionFlags Flags(bool structuredReplies)
    {
        var flags = NbdTransmissionFlags.HasFlags | NbdTransmissionFlags.SendFlush | NbdTransmissionFlags.SendFua
            | NbdTransmissionFlags.SendTrim | NbdTransmissionFlags.SendWriteZeroes;
        if (ReadOnly)
        {
            flags |= NbdTransmissionFlags.ReadOnly;
        }

        if (MultiConn)
        {
            flags |= NbdTransmissionFlags.CanMultiConn;
        }

        // proto.md: NBD_FLAG_SEND_DF only makes sense with structured replies; a read is never fragmented here anyway.
        if (structuredReplies)
        {
            flags |= NbdTransmissionFlags.SendDf;
        }

        return flags;
    }

    public bool Matches(string name) => name.Length == 0 || string.Equals(name, Name, StringComparison.Ordinal);
}

/// <summary>Outcome of the handshake: whether to enter transmission and with which reply style.</summary>
internal readonly record struct NbdNegotiated(bool Transmission, bool StructuredReplies, string Reason);

/// <summary>
/// The fixed-newstyle handshake (proto.md "Fixed newstyle negotiation" and "Option types").
/// Runs once per connection before transmission; it allocates freely.
/// </summary>
internal sealed class NbdNegotiation
{
    private readonly Stream _stream;
    private readonly NbdExportInfo _export;
    private readonly ILogger _logger;
    private readonly byte[] _header = new byte[20];
    private bool _structured;
    private bool _noZeroes;

    public NbdNegotiation(Stream stream, NbdExportInfo export, ILogger logger)
    {
        _stream = stream;
        _export = export;
        _logger = logger;
    }

    public async Task<NbdNegotiated> RunAsync(CancellationToken cancellationToken)
    {
        var hello = new byte[18];
        BinaryPrimitives.WriteUInt64BigEndian(hello, NbdProtocol.InitMagic);
        BinaryPrimitives.WriteUInt64BigEndian(hello.AsSpan(8), NbdProtocol.OptionMagic);
        BinaryPrimitives.WriteUInt16BigEndian(hello.AsSpan(16), (ushort)(NbdHandshakeFlags.FixedNewstyle | NbdHandshakeFlags.NoZeroes));
        await _stream.WriteAsync(hello, cancellationToken).ConfigureAwait(false);

        await _stream.ReadExactlyAsync(_header.AsMemory(0, 4), cancellationToken).ConfigureAwait(false);
        var clientFlags = (NbdClientFlags)BinaryPrimitives.ReadUInt32BigEndian(_header);

        // proto.md: a server MUST close the connection when the client sets flags it does not know.
        if ((clientFlags & ~(NbdClientFlags.FixedNewstyle | NbdClientFlags.NoZeroes)) != 0)
        {
            return new NbdNegotiated(false, false, "unknown client flags");
        }

        _noZeroes = (clientFlags & NbdClientFlags.NoZeroes) != 0;
        while (true)
        {
            await _stream.ReadExactlyAsync(_header.AsMemory(0, 16), cancellationToken).ConfigureAwait(false);
            if (BinaryPrimitives.ReadUInt64BigEndian(_header) != NbdProtocol.OptionMagic)
            {
                return new NbdNegotiated(false, false, "option without IHAVEOPT magic");
            }

            var option = BinaryPrimitives.ReadUInt32BigEndian(_header.AsSpan(8));
            var length = BinaryPrimitives.ReadUInt32BigEndian(_header.AsSpan(12));
            if (length > NbdProtocol.MaxOptionLength)
            {
                return new NbdNegotiated(false, false, "option data too long");
            }

            var data = new byte[length];
            await _stream.ReadExactlyAsync(data, cancellationToken).ConfigureAwait(false);
            var result = await HandleOptionAsync(option, data, cancellationToken).ConfigureAwait(false);
            if (result is { } done)
            {
                return done;
            }
        }
    }

    private async Task<NbdNegotiated?> HandleOptionAsync(uint option, byte[] data, CancellationToken cancellationToken)
    {
        switch ((NbdOption)option)
        {
            case NbdOption.ExportName:
                if (!_export.Matches(Encoding.UTF8.GetString(data)))
                {
                    // No error reply exists for NBD_OPT_EXPORT_NAME: the server closes.
                    return new NbdNegotiated(false, false, "unknown export name");
                }

                var reply = new byte[_noZeroes ? 10 : 134];
                BinaryPrimitives.WriteUInt64BigEndian(reply, _export.Size);
                BinaryPrimitives.WriteUInt16BigEndian(reply.AsSpan(8), (ushort)_export.Flags(_structured));
                await _stream.WriteAsync(reply, cancellationToken).ConfigureAwait(false);
                return new NbdNegotiated(true, _structured, "export name");

            case NbdOption.Abort:
                await ReplyAsync(option, NbdOptionReply.Ack, ReadOnlyMemory<byte>.Empty, cancellationToken).ConfigureAwait(false);
                return new NbdNegotiated(false, false, "client aborted");

            case NbdOption.List:
                if (data.Length != 0)
                {
                    await RefuseAsync(option, NbdOptionReply.ErrInvalid, cancellationToken).ConfigureAwait(false);
                    return null;
                }

                var name = Encoding.UTF8.GetBytes(_export.Name);
                var server = new byte[4 + name.Length];
                BinaryPrimitives.WriteUInt32BigEndian(server, (uint)name.Length);
                name.CopyTo(server, 4);
                await ReplyAsync(option, NbdOptionReply.Server, server, cancellationToken).ConfigureAwait(false);
                await ReplyAsync(option, NbdOptionReply.Ack, ReadOnlyMemory<byte>.Empty, cancellationToken).ConfigureAwait(false);
                return null;

            case NbdOption.Info:
            case NbdOption.Go:
                return await InfoAsync(option, data, cancellationToken).ConfigureAwait(false);

            case NbdOption.StructuredReply:
                if (data.Length != 0)
                {
                    await RefuseAsync(option, NbdOptionReply.ErrInvalid, cancellationToken).ConfigureAwait(false);
                    return null;
                }

                _structured = true;
                await ReplyAsync(option, NbdOptionReply.Ack, ReadOnlyMemory<byte>.Empty, cancellationToken).ConfigureAwait(false);
                return null;

            default:
                // STARTTLS, metadata contexts, extended headers and anything newer are not offered.
                await RefuseAsync(option, NbdOptionReply.ErrUnsup, cancellationToken).ConfigureAwait(false);
                return null;
        }
    }

    private async Task<NbdNegotiated?> InfoAsync(uint option, byte[] data, CancellationToken cancellationToken)
    {
        // Layout: u32 name length, name, u16 count of info requests, count × u16.
        if (data.Length < 6)
        {
            await RefuseAsync(option, NbdOptionReply.ErrInvalid, cancellationToken).ConfigureAwait(false);
            return null;
        }

        var nameLength = BinaryPrimitives.ReadUInt32BigEndian(data);
        if (nameLength > (uint)data.Length - 6)
        {
            await RefuseAsync(option, NbdOptionReply.ErrInvalid, cancellationToken).ConfigureAwait(false);
            return null;
        }

        var name = Encoding.UTF8.GetString(data, 4, (int)nameLength);
        var countAt = 4 + (int)nameLength;
        var count = BinaryPrimitives.ReadUInt16BigEndian(data.AsSpan(countAt));
        if (data.Length != countAt + 2 + (count * 2))
        {
            await RefuseAsync(option, NbdOptionReply.ErrInvalid, cancellationToken).ConfigureAwait(false);
            return null;
        }

        if (!_export.Matches(name))
        {
            await RefuseAsync(option, NbdOptionReply.ErrUnknown, cancellationToken).ConfigureAwait(false);
            return null;
        }

        var wantName = false;
        var wantDescription = false;
        for (var i = 0; i < count; i++)
        {
            switch ((NbdInfoType)BinaryPrimitives.ReadUInt16BigEndian(data.AsSpan(countAt + 2 + (i * 2))))
            {
                case NbdInfoType.Name:
                    wantName = true;
                    break;
                case NbdInfoType.Description:
                    wantDescription = true;
                    break;
                default:
                    // NBD_INFO_EXPORT and NBD_INFO_BLOCK_SIZE are always sent; unknown requests are ignored.
                    break;
            }
        }

        var export = new byte[12];
        BinaryPrimitives.WriteUInt16BigEndian(export, (ushort)NbdInfoType.Export);
        BinaryPrimitives.WriteUInt64BigEndian(export.AsSpan(2), _export.Size);
        BinaryPrimitives.WriteUInt16BigEndian(export.AsSpan(10), (ushort)_export.Flags(_structured));
        await ReplyAsync(option, NbdOptionReply.Info, export, cancellationToken).ConfigureAwait(false);

        if (wantName)
        {
            await ReplyAsync(option, NbdOptionReply.Info, InfoString(NbdInfoType.Name, _export.Name), cancellationToken).ConfigureAwait(false);
        }

        if (wantDescription)
        {
            await ReplyAsync(option, NbdOptionReply.Info, InfoString(NbdInfoType.Description, _export.Description), cancellationToken).ConfigureAwait(false);
        }

        var sizes = new byte[14];
        BinaryPrimitives.WriteUInt16BigEndian(sizes, (ushort)NbdInfoType.BlockSize);
        BinaryPrimitives.WriteUInt32BigEndian(sizes.AsSpan(2), NbdExportInfo.MinimumBlockSize);
        BinaryPrimitives.WriteUInt32BigEndian(sizes.AsSpan(6), _export.PreferredBlockSize);
        BinaryPrimitives.WriteUInt32BigEndian(sizes.AsSpan(10), (uint)_export.MaxRequestBytes);
        await ReplyAsync(option, NbdOptionReply.Info, sizes, cancellationToken).ConfigureAwait(false);

        await ReplyAsync(option, NbdOptionReply.Ack, ReadOnlyMemory<byte>.Empty, cancellationToken).ConfigureAwait(false);
        return (NbdOption)option == NbdOption.Go ? new NbdNegotiated(true, _structured, "go") : null;
    }

    private static byte[] InfoString(NbdInfoType type, string text)
    {
        var bytes = Encoding.UTF8.GetBytes(text);
        var info = new byte[2 + bytes.Length];
        BinaryPrimitives.WriteUInt16BigEndian(info, (ushort)type);
        bytes.CopyTo(info, 2);
        return info;
    }

    private Task RefuseAsync(uint option, NbdOptionReply error, CancellationToken cancellationToken)
    {
        NbdLog.OptionRefused(_logger, option, error.ToString());
        return ReplyAsync(option, error, ReadOnlyMemory<byte>.Empty, cancellationToken);
    }

    private async Task ReplyAsync(uint option, NbdOptionReply type, ReadOnlyMemory<byte> payload, CancellationToken cancellationToken)
    {
        var reply = new byte[20 + payload.Length];
        BinaryPrimitives.WriteUInt64BigEndian(reply, NbdProtocol.OptionReplyMagic);
        BinaryPrimitives.WriteUInt32BigEndian(reply.AsSpan(8), option);
        BinaryPrimitives.WriteUInt32BigEndian(reply.AsSpan(12), (uint)type);
        BinaryPrimitives.WriteUInt32BigEndian(reply.AsSpan(16), (uint)payload.Length);
        payload.Span.CopyTo(reply.AsSpan(20));
        await _stream.WriteAsync(reply, cancellationToken).ConfigureAwait(false);
    }
}
