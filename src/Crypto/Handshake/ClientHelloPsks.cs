using System.Buffers.Binary;
using Org.BouncyCastle.Tls;

namespace NvmeMptls.Crypto.Handshake;

/// <summary>
/// The client's pre_shared_key extension (RFC 8446 §4.2.11, <c>OfferedPsks</c>), big-endian:
/// <c>struct { PskIdentity identities&lt;7..2^16-1&gt;; PskBinderEntry binders&lt;33..2^16-1&gt;; } OfferedPsks;</c>
/// with <c>PskIdentity { opaque identity&lt;1..2^16-1&gt;; uint32 obfuscated_ticket_age; }</c> and
/// <c>opaque PskBinderEntry&lt;32..255&gt;</c>; plus the truncated ClientHello the binders are computed over
/// (the whole handshake message up to, not including, the binders list, §4.2.11.2).
/// </summary>
internal sealed class ClientHelloPsks
{
    private ClientHelloPsks(IReadOnlyList<byte[]> identities, IReadOnlyList<byte[]> binders, byte[] truncatedHello)
    {
        Identities = identities;
        Binders = binders;
        TruncatedHello = truncatedHello;
    }

    public IReadOnlyList<byte[]> Identities { get; }

    /// <summary>One binder per identity, in the same order (RFC 8446 §4.2.11).</summary>
    public IReadOnlyList<byte[]> Binders { get; }

    public byte[] TruncatedHello { get; }

    /// <summary>
    /// Parses the extension body; <paramref name="message"/> is the whole ClientHello handshake message (4-byte header
    /// included) whose last extension this is, so the binders list is its tail.
    /// </summary>
    public static ClientHelloPsks Parse(ReadOnlySpan<byte> body, ReadOnlySpan<byte> message)
    {
        ReadOnlySpan<byte> rest = body;
        ReadOnlySpan<byte> identityList = Vector16(ref rest, "identities");
        int bindersField = rest.Length;
        ReadOnlySpan<byte> binderList = Vector16(ref rest, "binders");
        // RFC 8446 §4 / §6: a structure whose lengths do not add up to its container is a decode_error.
        if (!rest.IsEmpty)
        {
            throw new TlsFatalAlert(AlertDescription.decode_error, "bytes after the binders of pre_shared_key");
        }
        var identities = new List<byte[]>();
        while (!identityList.IsEmpty)
        {
            ReadOnlySpan<byte> identity = Vector16(ref identityList, "PSK identity");
            if (identity.IsEmpty || identityList.Length < 4)
            {
                throw new TlsFatalAlert(AlertDescription.decode_error, "PSK identity is empty or lacks its ticket age");
            }
            identityList = identityList[4..];
            identities.Add(identity.ToArray());
        }
        var binders = new List<byte[]>();
        while (!binderList.IsEmpty)
        {
            int length = binderList[0];
            // RFC 8446 §4.2.11: opaque PskBinderEntry<32..255>.
            if (length < 32 || 1 + length > binderList.Length)
            {
                throw new TlsFatalAlert(AlertDescription.decode_error, $"PSK binder of {length} bytes");
            }
            binders.Add(binderList.Slice(1, length).ToArray());
            binderList = binderList[(1 + length)..];
        }
        // RFC 8446 §4.2.11: identities<7..> and binders<33..> are non-empty; "Clients MUST ... one binder per identity";
        // a server seeing otherwise cannot validate the binder it must check (§4.2.11: abort the handshake).
        if (identities.Count == 0 || identities.Count != binders.Count)
        {
            throw new TlsFatalAlert(AlertDescription.illegal_parameter,
                $"pre_shared_key has {identities.Count} identities and {binders.Count} binders");
        }
        return new ClientHelloPsks(identities, binders, message[..^bindersField].ToArray());
    }

    private static ReadOnlySpan<byte> Vector16(ref ReadOnlySpan<byte> rest, string what)
    {
        if (rest.Length < 2 || 2 + BinaryPrimitives.ReadUInt16BigEndian(rest) > rest.Length)
        {
            throw new TlsFatalAlert(AlertDescription.decode_error, $"pre_shared_key {what} runs past the extension");
        }
        int length = BinaryPrimitives.ReadUInt16BigEndian(rest);
        ReadOnlySpan<byte> taken = rest.Slice(2, length);
        rest = rest[(2 + length)..];
        return taken;
    }
}
