using System.Formats.Asn1;
using System.Security.Cryptography;
using System.Text;

namespace NvmeMptls.IntegrationTests.TestKit;

/// <summary>
/// Writes an OpenSSL "SSL SESSION PARAMETERS" PEM that carries a TLS 1.3 external PSK bound to a chosen cipher
/// suite, for <c>openssl s_client/s_server -psk_session FILE</c>.
/// </summary>
/// <remarks>
/// <c>-psk KEY</c> makes OpenSSL's apps bind the PSK to TLS_AES_128_GCM_SHA256 (the apps build the session with
/// that suite), so a SHA-384 PSK can only be given to them as a session whose cipher is TLS_AES_256_GCM_SHA384.
/// The DER layout is OpenSSL's SSL_SESSION_ASN1 (ssl/ssl_asn1.c): SEQUENCE { version INTEGER (1), ssl_version
/// INTEGER, cipher OCTET STRING (the two low bytes of the suite id), session_id OCTET STRING, master_key OCTET
/// STRING, [1] time, [2] timeout, ... [8] psk_identity }. For an external PSK the master key is the PSK itself.
/// The file is checked by <c>openssl sess_id</c> in the tests before it is used.
/// </remarks>
public static class OpenSslPskSessionFile
{
    private const int SessionAsn1Version = 1;
    private const int Tls13 = 0x0304;

    public static string ToPem(ReadOnlySpan<byte> psk, ushort cipherSuite, string identity)
    {
        var writer = new AsnWriter(AsnEncodingRules.DER);
        using (writer.PushSequence())
        {
            writer.WriteInteger(SessionAsn1Version);
            writer.WriteInteger(Tls13);
            writer.WriteOctetString([(byte)(cipherSuite >> 8), (byte)cipherSuite]);
            writer.WriteOctetString([]);
            writer.WriteOctetString(psk);
            WriteExplicitInteger(writer, 1, DateTimeOffset.UtcNow.ToUnixTimeSeconds());
            WriteExplicitInteger(writer, 2, 86_400);
            using (writer.PushSequence(new Asn1Tag(TagClass.ContextSpecific, 8, isConstructed: true)))
            {
                writer.WriteOctetString(Encoding.ASCII.GetBytes(identity));
            }
        }
        return PemEncoding.WriteString("SSL SESSION PARAMETERS", writer.Encode()) + "\n";
    }

    private static void WriteExplicitInteger(AsnWriter writer, int tag, long value)
    {
        using (writer.PushSequence(new Asn1Tag(TagClass.ContextSpecific, tag, isConstructed: true)))
        {
            writer.WriteInteger(value);
        }
    }
}
