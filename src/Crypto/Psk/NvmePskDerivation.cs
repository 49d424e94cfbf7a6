using System.Security.Cryptography;
using System.Text;

namespace NvmeMptls.Crypto.Psk;

/// <summary>
/// The NVMe TLS derivation chain of reference §4.3 (RFC form) and §4.4 (libnvme 1.10–1.15 "compat" form):
/// configured → retained PSK → digest → identity → TLS PSK.
/// </summary>
public static class NvmePskDerivation
{
    /// <summary>§4.3 step 2: HKDF-Expand-Label(HKDF-Extract(0, configured), "HostNQN", hostnqn, len), or the key itself for HH 00.</summary>
    public static byte[] RetainedPsk(ConfiguredPsk configured, string hostNqn, bool compat)
    {
        if (configured.Hmac == NvmePskHash.None)
        {
            return configured.Key.ToArray();
        }
        return NvmeHkdf.ExtractThenExpandLabel(NvmePskHashes.AlgorithmName(configured.Hmac), configured.Key, "HostNQN",
            Encoding.ASCII.GetBytes(hostNqn), configured.Key.Length, compat);
    }

    /// <summary>§4.3 step 3: Base64(HMAC(retained, hostnqn " " subsysnqn " NVMe-over-Fabrics")).</summary>
    public static string Digest(NvmePskHash hash, ReadOnlySpan<byte> retainedOrGenerated, string hostNqn, string subsysNqn)
    {
        byte[] message = Encoding.ASCII.GetBytes($"{hostNqn} {subsysNqn} NVMe-over-Fabrics");
        Span<byte> mac = stackalloc byte[48];
        int length = hash switch
        {
            NvmePskHash.Sha256 => HMACSHA256.HashData(retainedOrGenerated, message, mac),
            NvmePskHash.Sha384 => HMACSHA384.HashData(retainedOrGenerated, message, mac),
            _ => throw new ArgumentOutOfRangeException(nameof(hash), hash, "digest needs SHA-256 or SHA-384"),
        };
        return Convert.ToBase64String(mac[..length]);
    }

    /// <summary>§4.3 step 4: the identity for a retained (R) or generated (G) PSK; version 0 carries no digest.</summary>
    public static NvmePskIdentity Identity(
        int version, bool generated, NvmePskHash hash, ReadOnlySpan<byte> retainedOrGenerated, string hostNqn, string subsysNqn)
    {
        if (version is not (0 or 1))
        {
            throw new ArgumentOutOfRangeException(nameof(version), version, "identity version is 0 or 1");
        }
        string? digest = version == 1 ? Digest(hash, retainedOrGenerated, hostNqn, subsysNqn) : null;
        return new NvmePskIdentity(version, generated, hash, hostNqn, subsysNqn, digest);
    }

    /// <summary>
    /// §4.3 step 5: HKDF-Expand-Label(HKDF-Extract(0, psk), "nvme-tls-psk", ctx, len(psk)) with
    /// ctx = "cc digest" for version 1 and the whole identity for version 0.
    /// </summary>
    public static byte[] TlsPsk(NvmePskIdentity identity, ReadOnlySpan<byte> retainedOrGenerated, bool compat)
    {
        string context = identity.Version == 1 ? $"{(int)identity.Hash:D2} {identity.Digest}" : identity.ToString();
        return NvmeHkdf.ExtractThenExpandLabel(NvmePskHashes.AlgorithmName(identity.Hash), retainedOrGenerated,
            "nvme-tls-psk", Encoding.ASCII.GetBytes(context), retainedOrGenerated.Length, compat);
    }

    /// <summary>The whole chain for a configured key: identity and TLS PSK to offer (client) or expect (server).</summary>
    public static DerivedTlsPsk Derive(ConfiguredPsk configured, string hostNqn, string subsysNqn, int version, bool compat)
    {
        byte[] retained = RetainedPsk(configured, hostNqn, compat);
        try
        {
            // The digest is keyed by the retained PSK, so the compat retained key gives the compat digest (§4.4).
            var identity = Identity(version, generated: false, configured.CipherHash, retained, hostNqn, subsysNqn);
            return new DerivedTlsPsk(identity, TlsPsk(identity, retained, compat), compat);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(retained);
        }
    }
}
