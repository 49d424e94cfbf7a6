using System.Buffers;
using System.Buffers.Binary;
using System.IO.Pipelines;
using NvmeMptls.Transport.Connections;
using NvmeMptls.Transport.Nvme;

namespace NvmeMptls.Transport.Pdu;

/// <summary>
/// Writes NVMe/TCP PDUs into a pipe: header, header digest, padding to the peer's alignment, data copied in
/// pipe-sized chunks, data digest. Not thread-safe: one send loop owns it. The caller flushes, so a burst of
/// PDUs goes out in one write. Nothing is allocated per PDU.
/// With <c>batchAdvance</c> the PDUs are written into one piece of the pipe's memory until it is full, and the pipe is
/// told (Advance) only then, at a flush or at <see cref="Commit"/>: a <see cref="Pipe"/>'s Advance takes the pipe's
/// lock, and one per header, data and digest made Monitor enter/exit ~6% of the target's CPU at 4 KiB randread QD32
/// (bench/profile-target.sh). Only for an owner that writes the pipe through this writer alone (or commits first):
/// bytes written into the pipe directly meanwhile would land on top of the uncommitted ones.
/// </summary>
public sealed class PduWriter
{
    private readonly PipeWriter _output;
    private readonly StreamConnection? _splice;

    /// <summary>The pipe memory being filled; <see cref="_pending"/> bytes of it are written and not yet advanced.</summary>
    private Memory<byte> _current;

    private int _pending;

    private readonly bool _batch;

    /// <param name="output">Where the PDUs go.</param>
    /// <param name="settings">Digests, alignment and limits of the connection.</param>
    /// <param name="spliceTo">
    /// The connection <paramref name="output"/> belongs to, when data may be spliced into it without a copy
    /// (<see cref="StreamConnection.CanSpliceOutput"/>); null: data is always copied into <paramref name="output"/>.
    /// </param>
    /// <param name="batchAdvance">Advance the pipe once per filled memory or flush instead of once per piece (see above).</param>
    public PduWriter(PipeWriter output, PduSettings settings, StreamConnection? spliceTo = null, bool batchAdvance = false)
    {
        _batch = batchAdvance;
        _output = output;
        Settings = settings;
        _splice = spliceTo is { CanSpliceOutput: true } ? spliceTo : null;
    }

    /// <summary>
    /// Data of at least this many bytes is spliced (sent from where it lies) rather than copied into the pipe, when the
    /// connection can splice. Below it a copy costs less than the gather entry and the deferred completion.
    /// </summary>
    public int MinSpliceLength { get; set; } = DefaultMinSpliceLength;

    /// <summary>
    /// Default <see cref="MinSpliceLength"/>: 32 KiB. A gathered send takes at most 8 pieces (three per read), so small
    /// reads spliced would cost more sendmsg calls than the copy they save; from 32 KiB up the copy dominates.
    /// </summary>
    public const int DefaultMinSpliceLength = 32 * 1024;

    /// <summary>True when <see cref="TryWriteC2HDataSpliced"/> can splice (the connection sends caller memory).</summary>
    public bool CanSplice => _splice is not null;

    public PduSettings Settings { get; }

    /// <summary>Bytes buffered since the last flush.</summary>
    public long UnflushedBytes { get; private set; }

    public long PdusWritten { get; private set; }

    public void WriteIcReq(in IcReqPdu pdu)
    {
        var span = Reserve(IcReqPdu.HeaderLength);
        pdu.Write(span);
        Advance(IcReqPdu.HeaderLength);
    }

    public void WriteIcResp(in IcRespPdu pdu)
    {
        var span = Reserve(IcRespPdu.HeaderLength);
        pdu.Write(span);
        Advance(IcRespPdu.HeaderLength);
    }

    /// <summary>Writes a TermReq of the type our role sends (C2H from a controller, H2C from a host).</summary>
    public void WriteTermReq(PduRole localRole, TermReqFes fes, uint fei, ReadOnlySpan<byte> offendingHeader)
    {
        var span = Reserve((int)TermReqLayout.MaxPduLength);
        var length = localRole == PduRole.Controller
            ? new C2HTermReqPdu(fes, fei).Write(span, offendingHeader)
            : new H2CTermReqPdu(fes, fei).Write(span, offendingHeader);
        Advance(length);
    }

    public void WriteCapsuleCmd(in NvmeCommand command, ReadOnlySpan<byte> inCapsuleData)
    {
        var hd = Settings.HeaderDigestLength;
        var hasData = !inCapsuleData.IsEmpty;
        var pdo = hasData ? DataOffsetFor(CapsuleCmdPdu.HeaderLength) : 0;
        var dd = hasData ? Settings.DataDigestLength : 0;
        var plen = hasData ? (uint)(pdo + inCapsuleData.Length + dd) : (uint)(CapsuleCmdPdu.HeaderLength + hd);
        var span = Reserve(CapsuleCmdPdu.HeaderLength + 4);
        CapsuleCmdPdu.WriteHeader(span, Flags(hasData), (byte)pdo, plen, command);
        FinishHeader(span, CapsuleCmdPdu.HeaderLength);
        if (hasData)
        {
            WritePadding(pdo - CapsuleCmdPdu.HeaderLength - hd);
            WriteData(inCapsuleData);
        }
    }

    public void WriteCapsuleResp(in NvmeCompletion completion)
    {
        var span = Reserve(CapsuleRespPdu.HeaderLength + 4);
        CapsuleRespPdu.WriteHeader(span, Flags(false), (uint)(CapsuleRespPdu.HeaderLength + Settings.HeaderDigestLength), completion);
        FinishHeader(span, CapsuleRespPdu.HeaderLength);
    }

    public void WriteR2T(in R2TPdu r2t)
    {
        var span = Reserve(R2TPdu.HeaderLength + 4);
        r2t.WriteHeader(span, Flags(false), (uint)(R2TPdu.HeaderLength + Settings.HeaderDigestLength));
        FinishHeader(span, R2TPdu.HeaderLength);
    }

    public void WriteH2CData(in H2CDataPdu pdu, ReadOnlySpan<byte> data, bool last)
    {
        var pdo = DataOffsetFor(H2CDataPdu.HeaderLength);
        var plen = (uint)(pdo + data.Length + Settings.DataDigestLength);
        var span = Reserve(H2CDataPdu.HeaderLength + 4);
        pdu.WriteHeader(span, Flags(true) | (last ? PduFlags.Last : PduFlags.None), (byte)pdo, plen);
        FinishHeader(span, H2CDataPdu.HeaderLength);
        WritePadding(pdo - H2CDataPdu.HeaderLength - Settings.HeaderDigestLength);
        WriteData(data);
    }

    /// <summary>Writes one C2HData PDU; <paramref name="success"/> (only with <paramref name="last"/>) replaces the CapsuleResp.</summary>
    public void WriteC2HData(in C2HDataPdu pdu, ReadOnlySpan<byte> data, bool last, bool success)
    {
        var pdo = DataOffsetFor(C2HDataPdu.HeaderLength);
        var plen = (uint)(pdo + data.Length + Settings.DataDigestLength);
        var flags = Flags(true) | (last ? PduFlags.Last : PduFlags.None) | (last && success ? PduFlags.Success : PduFlags.None);
        var span = Reserve(C2HDataPdu.HeaderLength + 4);
        pdu.WriteHeader(span, flags, (byte)pdo, plen);
        FinishHeader(span, C2HDataPdu.HeaderLength);
        WritePadding(pdo - C2HDataPdu.HeaderLength - Settings.HeaderDigestLength);
        WriteData(data);
    }

    /// <summary>
    /// Writes one C2HData PDU whose data is sent from where it lies (a gathered send): header, header digest and padding
    /// go into the pipe, the data is spliced after them, the data digest follows in the pipe. Returns false, having
    /// written nothing, when the data is shorter than <see cref="MinSpliceLength"/> or the connection cannot splice: the
    /// caller then uses <see cref="WriteC2HData"/>. When true, <paramref name="data"/> must not change until
    /// <paramref name="completion"/> is called with <paramref name="token"/> (see <see cref="StreamConnection.SpliceOutput"/>).
    /// The bytes on the wire are the same as <see cref="WriteC2HData"/>'s.
    /// </summary>
    public bool TryWriteC2HDataSpliced(in C2HDataPdu pdu, ArraySegment<byte> data, bool last, bool success,
        IOutputSpliceCompletion completion, object? token)
    {
        if (_splice is null || data.Count < MinSpliceLength || data.Count == 0)
        {
            return false;
        }

        var pdo = DataOffsetFor(C2HDataPdu.HeaderLength);
        var plen = (uint)(pdo + data.Count + Settings.DataDigestLength);
        var flags = Flags(true) | (last ? PduFlags.Last : PduFlags.None) | (last && success ? PduFlags.Success : PduFlags.None);
        var span = Reserve(C2HDataPdu.HeaderLength + 4);
        pdu.WriteHeader(span, flags, (byte)pdo, plen);
        FinishHeader(span, C2HDataPdu.HeaderLength);
        WritePadding(pdo - C2HDataPdu.HeaderLength - Settings.HeaderDigestLength);
        var crc = Settings.DataDigest ? Crc32C.Update(Crc32C.Seed, data) : 0;
        Commit(); // the splice goes at the pipe's count of bytes written: the header must be counted first
        _splice.SpliceOutput(data, completion, token);
        UnflushedBytes += data.Count;
        if (Settings.DataDigest)
        {
            var digest = Reserve(4);
            BinaryPrimitives.WriteUInt32LittleEndian(digest, ~crc);
            Advance(4);
        }

        return true;
    }

    public ValueTask<FlushResult> FlushAsync(CancellationToken cancellationToken = default)
    {
        Commit();
        UnflushedBytes = 0;
        return _output.FlushAsync(cancellationToken);
    }

    /// <summary>PDO for a data PDU: right after the header and its digest, rounded up to the peer's alignment.</summary>
    public int DataOffsetFor(int headerLength)
    {
        var align = (Settings.SendAlignment + 1) * 4;
        var start = headerLength + Settings.HeaderDigestLength;
        return (start + align - 1) / align * align;
    }

    private PduFlags Flags(bool hasData) =>
        (Settings.HeaderDigest ? PduFlags.HeaderDigest : PduFlags.None) |
        (hasData && Settings.DataDigest ? PduFlags.DataDigest : PduFlags.None);

    private void FinishHeader(Span<byte> span, int headerLength)
    {
        if (Settings.HeaderDigest)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(span[headerLength..], Crc32C.Compute(span[..headerLength]));
            headerLength += 4;
        }

        Advance(headerLength);
        PdusWritten++;
    }

    private void WritePadding(int count)
    {
        while (count > 0)
        {
            var span = ReserveSome(1);
            var n = Math.Min(span.Length, count);
            span[..n].Clear();
            Advance(n);
            count -= n;
        }
    }

    private void WriteData(ReadOnlySpan<byte> data)
    {
        var crc = Crc32C.Seed;
        var digest = Settings.DataDigest;
        while (!data.IsEmpty)
        {
            // Ask for little and take what is there: the rest of a socket pipe's send segment, or of the TLS record
            // being built (a TLS writer refuses more than one record's plaintext and would seal a record early to
            // satisfy a large hint).
            var span = ReserveSome(Math.Min(data.Length, 4096));
            var n = Math.Min(span.Length, data.Length);
            data[..n].CopyTo(span);
            if (digest)
            {
                crc = Crc32C.Update(crc, data[..n]);
            }

            Advance(n);
            data = data[n..];
        }

        if (digest)
        {
            var span = Reserve(4);
            BinaryPrimitives.WriteUInt32LittleEndian(span, ~crc);
            Advance(4);
        }
    }

    /// <summary>Tells the pipe about the bytes written since the last commit (flushes do it themselves).</summary>
    public void Commit()
    {
        // Cleared before the pipe is told: an Advance that throws (a TLS key at its usage limit) must not be repeated.
        var pending = _pending;
        _pending = 0;
        _current = default;
        if (pending != 0)
        {
            _output.Advance(pending);
        }
    }

    /// <summary>At least <paramref name="size"/> bytes to write into: the rest of the current memory, or new pipe memory.</summary>
    private Span<byte> Reserve(int size)
    {
        if (_current.Length - _pending >= size)
        {
            return _current.Span[_pending..];
        }

        Commit();
        _current = _output.GetMemory(size);
        return _current.Span;
    }

    /// <summary>Whatever is left of the current memory, or new pipe memory of at least <paramref name="hint"/> bytes.</summary>
    private Span<byte> ReserveSome(int hint) => _current.Length > _pending ? _current.Span[_pending..] : Reserve(hint);

    private void Advance(int count)
    {
        _pending += count;
        UnflushedBytes += count;
        if (!_batch)
        {
            Commit();
        }
    }
}
