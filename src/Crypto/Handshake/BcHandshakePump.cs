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
/// </summary>
internal static class BcHandshakePump
{
    public static async Task RunAsync(TlsProtocol protocol, StreamConnection inner, Action afterRecord, CancellationToken ct)
    {
        await DrainOutputAsync(protocol, inner.Output, ct).ConfigureAwait(false);
        PipeReader input = inner.Input;
        while (protocol.IsHandshaking)
        {
            ReadResult result = await input.ReadAsync(ct).ConfigureAwait(false);
            ReadOnlySequence<byte> buffer = result.Buffer;
            try
            {
                while (protocol.IsHandshaking && TryTakeRecord(ref buffer, out byte[]? record))
                {
                    try
                    {
                        protocol.OfferInput(record);
                        afterRecord();
                    }
                    finally
                    {
                        // A failed OfferInput leaves BC's fatal alert in its output buffer; send it before the exception goes up.
                        WriteAvailableOutput(protocol, inner.Output);
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

    private static bool TryTakeRecord(ref ReadOnlySequence<byte> buffer, out byte[]? record)
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
