using System.Security.Cryptography;
using NvmeMptls.Crypto.Psk;
using NvmeMptls.Transport.Nvme.Auth;

namespace NvmeMptls.Crypto.Auth;

/// <summary>
/// Secure channel concatenation (TP 8018; reference §5): the TLS PSK both ends derive from a DH-HMAC-CHAP transaction.
/// Generated PSK = HMAC(KS, C1 || C2) with the transaction's hash; then the digest, the <c>NVMe1G&lt;cc&gt;</c> identity and
/// the TLS PSK exactly as for a retained PSK (reference §4.3 steps 3–5, version 1 context "&lt;cc&gt; &lt;digest&gt;", RFC 8446
/// framing, as the kernel's nvme_auth_derive_tls_psk since it uses hkdf_expand_label).
/// </summary>
public static class SecureChannelPsk
{
    /// <summary>
    /// The PSK digest is defined for SHA-256 and SHA-384 only (reference §4.3 step 3; the kernel's
    /// nvme_auth_generate_digest refuses SHA-512), so a concatenating transaction must use one of those.
    /// </summary>
    public static bool Supports(DhChapHashId hash) => hash is DhChapHashId.Sha256 or DhChapHashId.Sha384;

    /// <summary>Generated PSK = HMAC(KS, C1 || C2): hash-length bytes; the caller zeroes them.</summary>
    public static byte[] Generate(DhChapHashId hash, ReadOnlySpan<byte> sessionKey, ReadOnlySpan<byte> challenge1, ReadOnlySpan<byte> challenge2)
    {
        byte[] psk = new byte[DhChapHashes.Length(hash)];
        DhChapResponses.GeneratedPsk(hash, sessionKey, challenge1, challenge2, psk);
        return psk;
    }

    /// <summary>
    /// The identity (<c>NVMe1G&lt;cc&gt; &lt;hostnqn&gt; &lt;subsysnqn&gt; &lt;digest&gt;</c>) and TLS PSK for a generated PSK. The hash id
    /// doubles as the identity's cipher code: 01 SHA-256, 02 SHA-384.
    /// </summary>
    public static DerivedTlsPsk FromGenerated(DhChapHashId hash, ReadOnlySpan<byte> generated, string hostNqn, string subsystemNqn)
    {
        if (!Supports(hash))
        {
            throw new ArgumentOutOfRangeException(nameof(hash), hash, "secure channel concatenation needs SHA-256 or SHA-384");
        }
        var identity = NvmePskDerivation.Identity(1, generated: true, (NvmePskHash)hash, generated, hostNqn, subsystemNqn);
        return new DerivedTlsPsk(identity, NvmePskDerivation.TlsPsk(identity, generated, compat: false), compat: false);
    }

    /// <summary>The whole chain from the transaction's session key and challenges.</summary>
    public static DerivedTlsPsk Derive(DhChapHashId hash, ReadOnlySpan<byte> sessionKey, ReadOnlySpan<byte> challenge1, ReadOnlySpan<byte> challenge2,
        string hostNqn, string subsystemNqn)
    {
        byte[] generated = Generate(hash, sessionKey, challenge1, challenge2);
        try
        {
            return FromGenerated(hash, generated, hostNqn, subsystemNqn);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(generated);
        }
    }
}
