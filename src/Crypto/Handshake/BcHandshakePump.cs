using System.Buffers;
using System.Buffers.Binary;
using System.IO.Pipelines;
using NvmeMptls.Transport.Connections;
using NvmeMptls.Transport.Tls;
using Org.BouncyCastle.Tls;

namespace NvmeMptls.Crypto.Handshake;

/// <summary>
/// Drives BouncyCastle's non-blocking protocol (OfferInput/ReadOutput) over a connection's pipes. Input is offered
/// one whole record at a time so that the pump stops exactly after the record that completes the handshake: any
/// application data the peer sent right behind it stays in the pipe for our record layer.
/// On the server, the client's first flight is held back until its ClientHello is whole and has passed
/// <see cref="ClientHelloCheck"/>, so a ClientHello that cannot lead to a PSK handshake is refused before BC answers;
/// its offered PSKs then go to <c>onClientHello</c> (the server's binder check) before BC sees the hello.
/// </summary>
internal static class BcHandshakePump
{
    public static async Task RunAsync(TlsProtocol protocol, StreamConnection inner, Action afterRecord, Action<ClientHelloPsks>? onClientHello,
        CancellationToken ct)
    {
        await DrainOutputAsync(protocol, inner.Output, ct).ConfigureAwait(false);
        PipeReader input = inner.Input;
        List<byte[]>? firstFlight = onClientHello is not null ? [] : null;
        while (protocol.IsHandshaking)
        {
            ReadResult result = await input.ReadAsync(ct).ConfigureAwait(false);
            ReadOnlySequence<byte> buffer = result.Buffer;
            try
            {
                while (protocol.IsHandshaking && TakeRecord(ref buffer, inner.Output, ref firstFlight, onClientHello) is { } records)
                {
                    foreach (byte[] record in records)
                    {
                        Offer(protocol, inner.Output, record, afterRecord);
                    }
                }
            }
            finally
            {
                // Once done, leave the rest "unexamined" so the record layer's first read returns it at once.
                input.AdvanceTo(buffer.Start, protocol.IsHandshaking ? buffer.End : buffer.Start);
            }
            await inner.Output.FlushAsync(ct).ConfigureAwait(false);
            if (protocol.IsHandshaking && (result.IsCompleted || result.IsCanceled))
            {
                throw new TlsHandshakeException(TlsHandshakeFailure.ConnectionClosed, "connection closed during the handshake");
            }
        }
    }

    private static void Offer(TlsProtocol protocol, PipeWriter output, byte[] record, Action afterRecord)
    {
        try
        {
            protocol.OfferInput(record);
            afterRecord();
        }
        finally
        {
            // A failed OfferInput leaves BC's fatal alert in its output buffer; send it before the exception goes up.
            WriteAvailableOutput(protocol, output);
        }
    }

    /// <summary>
    /// The next records to offer: one record, or the whole first flight once its ClientHello passed the check; null
    /// when more bytes are needed. An alert raised here (not by BC) is written to <paramref name="output"/> before it
    /// goes up, so the peer learns why it is being closed.
    /// </summary>
    private static List<byte[]>? TakeRecord(ref ReadOnlySequence<byte> buffer, PipeWriter output, ref List<byte[]>? firstFlight,
        Action<ClientHelloPsks>? onClientHello)
    {
        try
        {
            while (TryTakeRecord(ref buffer, out byte[]? record, firstFlight))
            {
                if (firstFlight is null)
                {
                    return [record!];
                }
                firstFlight.Add(record!);
                if (ClientHelloCheck.IsAcceptable(firstFlight, out ClientHelloPsks? offered))
                {
                    if (offered is not null)
                    {
                        onClientHello!(offered);
                    }
                    List<byte[]> flight = firstFlight;
                    firstFlight = null;
                    return flight;
                }
            }
            return null;
        }
        catch (TlsFatalAlert ex)
        {
            // RFC 8446 §6.2: the alert is sent before the connection closes; nothing of BC's is queued yet.
            ReadOnlySpan<byte> alert = [(byte)TlsContentType.Alert, 3, 3, 0, 2, (byte)AlertLevel.fatal, (byte)ex.AlertDescription];
            output.Write(alert);
            throw;
        }
    }

    private static bool TryTakeRecord(ref ReadOnlySequence<byte> buffer, out byte[]? record, List<byte[]>? firstFlight)
    {
        record = null;
        if (buffer.Length < TlsRecordLimits.HeaderLength)
        {
            return false;
        }
        Span<byte> header = stackalloc byte[TlsRecordLimits.HeaderLength];
        buffer.Slice(0, TlsRecordLimits.HeaderLength).CopyTo(header);
        int length = BinaryPrimitives.ReadUInt16BigEndian(header[3..]);
        // RFC 8446 §5.2: no record exceeds 2^14 + 256 bytes; refuse before buffering it.
        if (length > TlsRecordLimits.MaxCiphertext)
        {
            throw new TlsFatalAlert(AlertDescription.record_overflow, $"handshake record of {length} bytes");
        }
        if (firstFlight is not null)
        {
            int held = length;
            foreach (byte[] r in firstFlight)
            {
                held += r.Length;
            }
            if (held > ClientHelloCheck.MaxClientHello)
            {
                // See ClientHelloCheck.MaxClientHello: a first flight this long is not buffered.
                throw new TlsFatalAlert(AlertDescription.handshake_failure, $"first flight exceeds {ClientHelloCheck.MaxClientHello} bytes");
            }
        }
        if (buffer.Length < TlsRecordLimits.HeaderLength + length)
        {
            return false;
        }
        record = buffer.Slice(0, TlsRecordLimits.HeaderLength + length).ToArray();
        buffer = buffer.Slice(TlsRecordLimits.HeaderLength + length);
        return true;
    }

    public static async Task DrainOutputAsync(TlsProtocol protocol, PipeWriter output, CancellationToken ct)
    {
        WriteAvailableOutput(protocol, output);
        await output.FlushAsync(ct).ConfigureAwait(false);
    }

    private static void WriteAvailableOutput(TlsProtocol protocol, PipeWriter output)
    {
        int available;
        while ((available = protocol.GetAvailableOutputBytes()) > 0)
        {
            byte[] chunk = ArrayPool<byte>.Shared.Rent(available);
            int read = protocol.ReadOutput(chunk, 0, available);
            output.Write(chunk.AsSpan(0, read));
            ArrayPool<byte>.Shared.Return(chunk);
        }
    }
}
