using System.Buffers;
using System.Buffers.Binary;
using System.IO.Pipelines;
using System.Runtime.CompilerServices;
using NvmeMptls.Transport.Connections;

namespace NvmeMptls.Transport.Pdu;

/// <summary>
/// Reads NVMe/TCP PDUs from a byte stream in two steps: <see cref="ReadHeaderAsync"/> validates and copies the
/// header (CH + PSH, header digest checked), then <see cref="ReadDataAsync"/> streams the data straight into the
/// caller's buffer (padding skipped, data digest checked) or <see cref="SkipDataAsync"/> drops it.
/// Every declared length is checked against <see cref="PduSettings"/> before any body byte is waited for, so a
/// hostile PLEN never makes us buffer or allocate. Nothing is allocated per PDU.
/// </summary>
public sealed class PduReader
{
    private const int MaxHeaderBytes = 128 + 4;

    private readonly PipeReader _input;
    private readonly PduRole _role;
    private readonly byte[] _header = new byte[MaxHeaderBytes];
    private int _headerBytes;
    private int _padRemaining;
    private int _dataRemaining;
    private bool _dataHasDigest;

    /// <summary>
    /// The least data worth receiving past the pipe (<see cref="IReceivePlacement"/>). Below it the rest of a PDU
    /// usually comes in the same receive as the PDUs after it, and a receive of its own would cost a system call more.
    /// </summary>
    public const int MinPlacedBytes = 16 * 1024;

    private readonly IReceivePlacement? _placement;

    public PduReader(PipeReader input, PduRole role, PduSettings settings)
    {
        _input = input;
        _role = role;
        Settings = settings;
        // A burst reader without a placement behind it always declines: asking would cost a pipe read per data chunk.
        _placement = input is BurstEndReader { CanPlace: false } ? null : input as IReceivePlacement;
    }

    /// <summary>Data bytes that were received straight into the caller's buffer, past the pipe.</summary>
    public long PlacedBytes { get; private set; }

    public PduSettings Settings { get; }

    /// <summary>The common header of the current PDU.</summary>
    public PduCommonHeader Common { get; private set; }

    /// <summary>The current PDU's header (CH + PSH, HLEN bytes, without the digest).</summary>
    public ReadOnlySpan<byte> Header => _header.AsSpan(0, Common.HeaderLength);

    /// <summary>Whatever bytes of the current header were read, for the copy a TermReq carries.</summary>
    public ReadOnlySpan<byte> OffendingHeader => _header.AsSpan(0, Math.Min(_headerBytes, 128));

    /// <summary>Bytes of data the current PDU carries (excluding padding and digest).</summary>
    public int DataLength { get; private set; }

    /// <summary>Total PDUs received, for counters.</summary>
    public long PdusRead { get; private set; }

    /// <summary>
    /// Reads and validates the next PDU header. Returns false when the stream ended cleanly at a PDU boundary.
    /// Throws <see cref="PduException"/> for a bad header and <see cref="EndOfStreamException"/> for a stream cut mid-PDU.
    /// </summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<bool> ReadHeaderAsync(CancellationToken cancellationToken = default)
    {
        if (_dataRemaining > 0 || _padRemaining > 0)
        {
            throw new InvalidOperationException("the previous PDU's data was not consumed");
        }

        _headerBytes = 0;
        Common = default;
        DataLength = 0;
        while (true)
        {
            var result = await _input.ReadAsync(cancellationToken).ConfigureAwait(false);
            var buffer = result.Buffer;
            if (buffer.Length >= PduCommonHeader.Size)
            {
                var needed = ValidateCommonHeader(buffer);
                if (buffer.Length >= needed)
                {
                    buffer.Slice(0, needed).CopyTo(_header);
                    _headerBytes = needed;
                    _input.AdvanceTo(buffer.GetPosition(needed));
                    CompleteHeader();
                    PdusRead++;
                    return true;
                }
            }

            if (result.IsCompleted || result.IsCanceled)
            {
                var length = (int)Math.Min(buffer.Length, MaxHeaderBytes);
                buffer.Slice(0, length).CopyTo(_header);
                _headerBytes = length;
                _input.AdvanceTo(buffer.End);
                if (buffer.Length == 0 && result.IsCompleted)
                {
                    return false;
                }

                throw result.IsCanceled
                    ? new OperationCanceledException("PDU read canceled")
                    : new EndOfStreamException($"stream ended inside a PDU header ({buffer.Length} bytes)");
            }

            _input.AdvanceTo(buffer.Start, buffer.End);
        }
    }

    /// <summary>Streams the current PDU's data into <paramref name="destination"/>; returns false on a data digest mismatch.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<bool> ReadDataAsync(Memory<byte> destination, CancellationToken cancellationToken = default)
    {
        if (destination.Length != _dataRemaining)
        {
            throw new ArgumentException($"destination holds {destination.Length} bytes but the PDU carries {_dataRemaining}", nameof(destination));
        }

        await SkipBytesAsync(_padRemaining, cancellationToken).ConfigureAwait(false);
        _padRemaining = 0;
        var crc = Crc32C.Seed;
        var written = 0;
        while (_dataRemaining > 0)
        {
            // The pipe holds nothing more of this PDU: the rest can be received straight into the destination.
            if (_placement is not null && _dataRemaining >= MinPlacedBytes && !HasBuffered()
                && _placement.TryPlace(destination.Slice(written, _dataRemaining), cancellationToken, out var placed))
            {
                await placed.ConfigureAwait(false);
                if (_dataHasDigest)
                {
                    crc = Crc32C.Update(crc, destination.Span.Slice(written, _dataRemaining));
                }

                PlacedBytes += _dataRemaining;
                written += _dataRemaining;
                _dataRemaining = 0;
                break;
            }

            var buffer = await ReadSomeAsync(cancellationToken).ConfigureAwait(false);
            var take = (int)Math.Min(buffer.Length, _dataRemaining);
            var chunk = buffer.Slice(0, take);
            foreach (var segment in chunk)
            {
                segment.Span.CopyTo(destination.Span[written..]);
                if (_dataHasDigest)
                {
                    crc = Crc32C.Update(crc, segment.Span);
                }

                written += segment.Length;
            }

            _dataRemaining -= take;
            _input.AdvanceTo(chunk.End);
        }

        return !_dataHasDigest || await ReadDigestAsync(~crc, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Drops the current PDU's data without buffering it (digest not checked).</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    public async ValueTask SkipDataAsync(CancellationToken cancellationToken = default)
    {
        var total = _padRemaining + _dataRemaining + (_dataHasDigest ? 4 : 0);
        _padRemaining = 0;
        _dataRemaining = 0;
        _dataHasDigest = false;
        await SkipBytesAsync(total, cancellationToken).ConfigureAwait(false);
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<bool> ReadDigestAsync(uint expected, CancellationToken cancellationToken)
    {
        _dataHasDigest = false;
        while (true)
        {
            var result = await _input.ReadAsync(cancellationToken).ConfigureAwait(false);
            var buffer = result.Buffer;
            if (buffer.Length >= 4)
            {
                Span<byte> digest = stackalloc byte[4];
                buffer.Slice(0, 4).CopyTo(digest);
                _input.AdvanceTo(buffer.GetPosition(4));
                return BinaryPrimitives.ReadUInt32LittleEndian(digest) == expected;
            }

            if (result.IsCompleted)
            {
                _input.AdvanceTo(buffer.End);
                throw new EndOfStreamException("stream ended inside a data digest");
            }

            _input.AdvanceTo(buffer.Start, buffer.End);
        }
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask SkipBytesAsync(int count, CancellationToken cancellationToken)
    {
        while (count > 0)
        {
            var buffer = await ReadSomeAsync(cancellationToken).ConfigureAwait(false);
            var take = (int)Math.Min(buffer.Length, count);
            _input.AdvanceTo(buffer.GetPosition(take));
            count -= take;
        }
    }

    /// <summary>True when the input holds bytes (or its end) that a read would return now; looks without consuming.</summary>
    private bool HasBuffered()
    {
        if (!_input.TryRead(out var result))
        {
            return false;
        }

        _input.AdvanceTo(result.Buffer.Start);
        if (result.IsCanceled)
        {
            _input.CancelPendingRead(); // TryRead took the cancellation; the read that follows must still see it
        }

        return !result.Buffer.IsEmpty || result.IsCompleted || result.IsCanceled;
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<ReadOnlySequence<byte>> ReadSomeAsync(CancellationToken cancellationToken)
    {
        var result = await _input.ReadAsync(cancellationToken).ConfigureAwait(false);
        if (result.Buffer.IsEmpty)
        {
            _input.AdvanceTo(result.Buffer.End);
            throw result.IsCanceled ? new OperationCanceledException("PDU read canceled") : new EndOfStreamException("stream ended inside PDU data");
        }

        return result.Buffer;
    }

    /// <summary>Checks type, HLEN, PLEN, PDO and flags; returns how many header bytes (with digest) to read.</summary>
    private int ValidateCommonHeader(in ReadOnlySequence<byte> buffer)
    {
        Span<byte> ch = stackalloc byte[PduCommonHeader.Size];
        buffer.Slice(0, PduCommonHeader.Size).CopyTo(ch);
        ch.CopyTo(_header);
        _headerBytes = PduCommonHeader.Size;
        var header = PduCommonHeader.Read(ch);
        Common = header;

        // NVMe/TCP 1.0 §3.6.1: a PDU type the receiver does not expect is an invalid header field (FEI = type offset).
        if (!IsReceivable(header.Type))
        {
            throw PduException.HeaderField(PduCommonHeader.TypeOffset, $"PDU type 0x{(byte)header.Type:x2} is not valid for a {_role} to receive");
        }

        // §3.6.1: HLEN is fixed per PDU type.
        var hlen = PduCommonHeader.FixedHeaderLength(header.Type);
        if (header.HeaderLength != hlen)
        {
            throw PduException.HeaderField(PduCommonHeader.HlenOffset, $"HLEN {header.HeaderLength} for {header.Type}, expected {hlen}");
        }

        var isIcOrTerm = header.Type is PduType.ICReq or PduType.ICResp or PduType.H2CTermReq or PduType.C2HTermReq;
        var hd = isIcOrTerm ? 0 : Settings.HeaderDigestLength;

        // Reference §1.8: with header digests on, HDGSTF must be set on every digest-bearing PDU (and clear otherwise).
        if (!isIcOrTerm && ((header.Flags & PduFlags.HeaderDigest) != 0) != Settings.HeaderDigest)
        {
            throw PduException.HeaderField(PduCommonHeader.FlagsOffset, $"HDGSTF is {((header.Flags & PduFlags.HeaderDigest) != 0 ? "set" : "clear")} but header digests are {(Settings.HeaderDigest ? "on" : "off")}");
        }

        ValidateLengths(header, hlen, hd);
        return hlen + hd;
    }

    private void ValidateLengths(in PduCommonHeader header, int hlen, int hd)
    {
        var plen = header.PduLength;
        switch (header.Type)
        {
            case PduType.ICReq or PduType.ICResp:
                // §3.6.2.2: ICReq/ICResp are exactly 128 bytes.
                if (plen != IcReqPdu.HeaderLength)
                {
                    throw PduException.HeaderField(PduCommonHeader.PlenOffset, $"PLEN {plen} for {header.Type}, expected 128");
                }

                return;
            case PduType.H2CTermReq or PduType.C2HTermReq:
                // Reference §1.5: PLEN 24..152 (the offending header copy is at most 128 bytes).
                if (plen < TermReqLayout.HeaderLength || plen > TermReqLayout.MaxPduLength)
                {
                    throw PduException.HeaderField(PduCommonHeader.PlenOffset, $"TermReq PLEN {plen} outside 24..152");
                }

                DataLength = (int)plen - TermReqLayout.HeaderLength;
                _dataRemaining = DataLength;
                return;
            case PduType.CapsuleResp or PduType.R2T:
                if (plen != (uint)(hlen + hd))
                {
                    throw PduException.HeaderField(PduCommonHeader.PlenOffset, $"PLEN {plen} for {header.Type}, expected {hlen + hd}");
                }

                if (header.DataOffset != 0)
                {
                    throw PduException.HeaderField(PduCommonHeader.PdoOffset, $"PDO {header.DataOffset} for {header.Type}, expected 0");
                }

                return;
            case PduType.CapsuleCmd:
                if (plen == (uint)(hlen + hd))
                {
                    return; // no in-capsule data; PDO is not meaningful
                }

                ValidateData(header, hlen, hd, (uint)Settings.MaxInCapsuleData);
                return;
            case PduType.H2CData:
                ValidateData(header, hlen, hd, Settings.MaxH2CData);
                return;
            case PduType.C2HData:
                ValidateData(header, hlen, hd, Settings.MaxC2HData);
                return;
        }
    }

    private void ValidateData(in PduCommonHeader header, int hlen, int hd, uint maxData)
    {
        var plen = header.PduLength;
        var pdo = header.DataOffset;
        var align = (Settings.ReceiveAlignment + 1) * 4;

        // §3.6.1 / reference §1.9: PDO follows the header (and its digest) and honours our alignment.
        if (pdo < hlen + hd || pdo % align != 0 || pdo > plen)
        {
            throw PduException.HeaderField(PduCommonHeader.PdoOffset, $"PDO {pdo} invalid for {header.Type} (HLEN {hlen}, digest {hd}, alignment {align}, PLEN {plen})");
        }

        var dd = Settings.DataDigestLength;
        if (plen < pdo + dd + 1)
        {
            throw PduException.HeaderField(PduCommonHeader.PlenOffset, $"PLEN {plen} leaves no data for {header.Type} (PDO {pdo})");
        }

        var dataLength = plen - pdo - (uint)dd;

        // Limits are checked before a single body byte is awaited: a hostile PLEN costs us nothing.
        if (dataLength > maxData)
        {
            throw header.Type == PduType.CapsuleCmd
                ? PduException.HeaderField(PduCommonHeader.PlenOffset, $"in-capsule data of {dataLength} bytes exceeds the {maxData}-byte limit")
                : new PduException(TermReqFes.DataTransferLimitExceeded, 0, $"{header.Type} carries {dataLength} bytes, over the {maxData}-byte limit");
        }

        // Reference §1.8: with data digests on, DDGSTF must be set on PDUs carrying data.
        if (((header.Flags & PduFlags.DataDigest) != 0) != Settings.DataDigest)
        {
            throw PduException.HeaderField(PduCommonHeader.FlagsOffset, $"DDGSTF is {((header.Flags & PduFlags.DataDigest) != 0 ? "set" : "clear")} but data digests are {(Settings.DataDigest ? "on" : "off")}");
        }

        DataLength = (int)dataLength;
        _padRemaining = pdo - hlen - hd;
        _dataRemaining = DataLength;
        _dataHasDigest = Settings.DataDigest;
    }

    private void CompleteHeader()
    {
        var header = Common;
        var isIcOrTerm = header.Type is PduType.ICReq or PduType.ICResp or PduType.H2CTermReq or PduType.C2HTermReq;
        if (!isIcOrTerm && Settings.HeaderDigest)
        {
            var hlen = header.HeaderLength;
            var expected = Crc32C.Compute(_header.AsSpan(0, hlen));
            var actual = BinaryPrimitives.ReadUInt32LittleEndian(_header.AsSpan(hlen, 4));

            // Reference §1.5: a header digest mismatch is FES 03h.
            if (expected != actual)
            {
                _padRemaining = 0;
                _dataRemaining = 0;
                _dataHasDigest = false;
                throw new PduException(TermReqFes.HeaderDigestError, 0, $"header digest mismatch on {header.Type}: got 0x{actual:x8}, computed 0x{expected:x8}");
            }
        }
    }

    private bool IsReceivable(PduType type) => _role == PduRole.Controller
        ? type is PduType.ICReq or PduType.H2CTermReq or PduType.CapsuleCmd or PduType.H2CData
        : type is PduType.ICResp or PduType.C2HTermReq or PduType.CapsuleResp or PduType.C2HData or PduType.R2T;
}
