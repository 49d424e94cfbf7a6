using System.Buffers.Binary;
using NvmeMptls.Transport.Tls;
using Org.BouncyCastle.Tls;

namespace NvmeMptls.Crypto.Handshake;

/// <summary>
/// The server's look at the client's first flight before BouncyCastle answers it: a ClientHello that cannot lead to
/// an external-PSK handshake is refused with the alert RFC 8446 names, before any ServerHello. (Left to BouncyCastle,
/// such a ClientHello got a ServerHello and then internal_error.) Only what decides "PSK or not" is checked here;
/// everything else stays BouncyCastle's.
/// </summary>
internal static class ClientHelloCheck
{
    /// <summary>Largest first flight buffered while waiting for the whole ClientHello (ours is a few hundred bytes).</summary>
    public const int MaxClientHello = 1 << 16;

    private const byte ClientHelloType = 1;
    private const ushort PreSharedKey = 41;
    private const ushort PskKeyExchangeModes = 45;
    private const byte PskDheKe = 1;

    /// <summary>
    /// Looks at the handshake records taken so far. False: the ClientHello is not complete yet. True: it may go to
    /// BouncyCastle (or the flight is not a ClientHello at all, which BouncyCastle refuses itself). Throws the alert
    /// to send when the ClientHello cannot lead to a PSK handshake.
    /// </summary>
    public static bool IsAcceptable(IReadOnlyList<byte[]> records) => IsAcceptable(records, out _);

    /// <summary>
    /// As <see cref="IsAcceptable(IReadOnlyList{byte[]})"/>; when the flight holds a whole acceptable ClientHello,
    /// <paramref name="offered"/> is its pre_shared_key extension with the truncated hello its binders cover.
    /// </summary>
    public static bool IsAcceptable(IReadOnlyList<byte[]> records, out ClientHelloPsks? offered)
    {
        offered = null;
        int total = 0;
        foreach (byte[] record in records)
        {
            if (record[0] != (byte)TlsContentType.Handshake)
            {
                return true;
            }
            total += record.Length - TlsRecordLimits.HeaderLength;
        }
        if (total < 4)
        {
            return false;
        }
        byte[] message = Concatenate(records, total);
        if (message[0] != ClientHelloType)
        {
            return true;
        }
        int length = (message[1] << 16) | (message[2] << 8) | message[3];
        if (4 + length > MaxClientHello)
        {
            // RFC 8446 §4.1.1: a server unable to negotiate with what the client offers aborts with handshake_failure;
            // an NVMe/TCP PSK ClientHello is a few hundred bytes, so one this large offers nothing we can use.
            throw new TlsFatalAlert(AlertDescription.handshake_failure, $"ClientHello of {length} bytes exceeds {MaxClientHello - 4}");
        }
        if (total < 4 + length)
        {
            return false;
        }
        offered = Check(message.AsSpan(0, 4 + length));
        return true;
    }

    private static byte[] Concatenate(IReadOnlyList<byte[]> records, int total)
    {
        var message = new byte[total];
        int offset = 0;
        foreach (byte[] record in records)
        {
            record.AsSpan(TlsRecordLimits.HeaderLength).CopyTo(message.AsSpan(offset));
            offset += record.Length - TlsRecordLimits.HeaderLength;
        }
        return message;
    }

    private static ClientHelloPsks Check(ReadOnlySpan<byte> message)
    {
        var reader = new Reader(message[4..]);
        reader.Skip(2 + 32);                  // legacy_version, random
        reader.Skip(reader.Byte());           // legacy_session_id
        reader.Skip(reader.UInt16());         // cipher_suites
        reader.Skip(reader.Byte());           // legacy_compression_methods
        if (reader.AtEnd)
        {
            // RFC 8446 §4.1.2: a ClientHello without extensions is pre-TLS 1.3 and cannot offer a PSK.
            throw new TlsFatalAlert(AlertDescription.handshake_failure, "ClientHello has no extensions (no pre_shared_key)");
        }
        var extensions = new Reader(reader.Bytes(reader.UInt16()));
        if (!reader.AtEnd)
        {
            // RFC 8446 §4.1.2: extensions are the last field of the ClientHello.
            throw new TlsFatalAlert(AlertDescription.decode_error, "bytes after the ClientHello extensions");
        }
        bool psk = false;
        ClientHelloPsks? offered = null;
        bool modes = false;
        bool dhe = false;
        while (!extensions.AtEnd)
        {
            ushort type = extensions.UInt16();
            ReadOnlySpan<byte> body = extensions.Bytes(extensions.UInt16());
            if (type == PreSharedKey)
            {
                psk = true;
                // RFC 8446 §4.2.11: pre_shared_key MUST be the last extension; servers MUST check this and otherwise
                // fail the handshake with illegal_parameter.
                if (!extensions.AtEnd)
                {
                    throw new TlsFatalAlert(AlertDescription.illegal_parameter, "pre_shared_key is not the last extension");
                }
                offered = ClientHelloPsks.Parse(body, message);
            }
            else if (type == PskKeyExchangeModes)
            {
                modes = true;
                var list = new Reader(body);
                ReadOnlySpan<byte> modeList = list.Bytes(list.Byte());
                dhe = modeList.Contains(PskDheKe);
            }
        }
        // RFC 8446 §4.2.9 and §9.2: a client offering pre_shared_key without psk_key_exchange_modes: the server MUST
        // abort with missing_extension.
        if (psk && !modes)
        {
            throw new TlsFatalAlert(AlertDescription.missing_extension, "pre_shared_key without psk_key_exchange_modes");
        }
        // RFC 8446 §4.1.1: no acceptable parameters → handshake_failure. This server only does external PSKs, and
        // with psk_dhe_ke only (§4.2.9: the server MUST NOT select a mode the client did not list).
        if (!psk)
        {
            throw new TlsFatalAlert(AlertDescription.handshake_failure, "ClientHello offers no pre_shared_key; this server accepts external PSKs only");
        }
        if (!dhe)
        {
            throw new TlsFatalAlert(AlertDescription.handshake_failure, "psk_key_exchange_modes lacks psk_dhe_ke, the only mode this server allows");
        }
        return offered!;
    }

    /// <summary>Bounds-checked reads; a length that runs past the message is a decode_error (RFC 8446 §6.2).</summary>
    private ref struct Reader(ReadOnlySpan<byte> data)
    {
        private ReadOnlySpan<byte> _rest = data;

        public readonly bool AtEnd => _rest.IsEmpty;

        public byte Byte() => Bytes(1)[0];

        public ushort UInt16() => BinaryPrimitives.ReadUInt16BigEndian(Bytes(2));

        public void Skip(int count) => Bytes(count);

        public ReadOnlySpan<byte> Bytes(int count)
        {
            if (count > _rest.Length)
            {
                throw new TlsFatalAlert(AlertDescription.decode_error, "ClientHello field runs past the message");
            }
            ReadOnlySpan<byte> taken = _rest[..count];
            _rest = _rest[count..];
            return taken;
        }
    }
}
