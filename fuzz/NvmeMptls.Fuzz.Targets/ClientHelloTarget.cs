using System.Buffers.Binary;
using NvmeMptls.Crypto.Handshake;
using NvmeMptls.Transport.Tls;
using Org.BouncyCastle.Tls;

namespace NvmeMptls.Fuzz;

/// <summary>
/// The server's ClientHello check, fed a first flight record by record as the handshake pump takes it (record
/// headers, the 2^14+256 record limit and the first-flight cap as the pump applies them). A bad flight must end
/// in a <see cref="TlsFatalAlert"/> (the alert to send), nothing else.
/// </summary>
public static class ClientHelloTarget
{
    public static void Run(byte[] input)
    {
        var records = new List<byte[]>();
        var rest = input.AsSpan();
        try
        {
            var held = 0;
            while (rest.Length >= TlsRecordLimits.HeaderLength)
            {
                var length = BinaryPrimitives.ReadUInt16BigEndian(rest[3..]);
                if (length > TlsRecordLimits.MaxCiphertext || held + length > ClientHelloCheck.MaxClientHello
                    || rest.Length < TlsRecordLimits.HeaderLength + length)
                {
                    return; // the pump refuses (record_overflow, handshake_failure) or waits for more bytes
                }

                var record = rest[..(TlsRecordLimits.HeaderLength + length)].ToArray();
                rest = rest[record.Length..];
                held += record.Length;
                records.Add(record);
                if (ClientHelloCheck.IsAcceptable(records))
                {
                    return;
                }
            }
        }
        catch (TlsFatalAlert)
        {
        }
    }
}
