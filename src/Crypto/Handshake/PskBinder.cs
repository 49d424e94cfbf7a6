using System.Security.Cryptography;
using NvmeMptls.Crypto.Psk;

namespace NvmeMptls.Crypto.Handshake;

/// <summary>
/// The TLS 1.3 PSK binder (RFC 8446 §4.2.11.2) of an external PSK, computed the way the server checks it:
/// <c>binder = HMAC(finished_key, Transcript-Hash(truncated ClientHello))</c> with
/// <c>finished_key = HKDF-Expand-Label(binder_key, "finished", "", Hash.length)</c> (§4.4.4) and
/// <c>binder_key = Derive-Secret(HKDF-Extract(0, PSK), "ext binder", "")</c> (§7.1, external PSKs use "ext binder").
/// Used to learn which of several candidate PSKs (RFC or compat form) the client holds before BouncyCastle answers.
/// </summary>
internal static class PskBinder
{
    /// <summary>The binder for <paramref name="psk"/> over <paramref name="truncatedHello"/> (the ClientHello
    /// handshake message, header included, up to but excluding its binders list, RFC 8446 §4.2.11.2).</summary>
    public static byte[] Compute(NvmePskHash hash, ReadOnlySpan<byte> psk, ReadOnlySpan<byte> truncatedHello)
    {
        HashAlgorithmName name = NvmePskHashes.AlgorithmName(hash);
        int hashLength = NvmePskHashes.Length(hash);
        Span<byte> early = stackalloc byte[64];
        Span<byte> emptyHash = stackalloc byte[64];
        Span<byte> transcript = stackalloc byte[64];
        byte[]? binderKey = null;
        byte[]? finishedKey = null;
        try
        {
            // RFC 8446 §7.1: Early Secret = HKDF-Extract(salt 0, PSK); a zero-length salt is HashLen zeros (RFC 5869 §2.2).
            HKDF.Extract(name, psk, ReadOnlySpan<byte>.Empty, early[..hashLength]);
            // Derive-Secret(Secret, Label, Messages) = HKDF-Expand-Label(Secret, Label, Transcript-Hash(Messages), Hash.length).
            Hash(name, ReadOnlySpan<byte>.Empty, emptyHash[..hashLength]);
            binderKey = NvmeHkdf.ExpandLabel(name, early[..hashLength], "ext binder", emptyHash[..hashLength], hashLength, compat: false);
            finishedKey = NvmeHkdf.ExpandLabel(name, binderKey, "finished", ReadOnlySpan<byte>.Empty, hashLength, compat: false);
            Hash(name, truncatedHello, transcript[..hashLength]);
            var binder = new byte[hashLength];
            _ = hash == NvmePskHash.Sha384
                ? HMACSHA384.HashData(finishedKey, transcript[..hashLength], binder)
                : HMACSHA256.HashData(finishedKey, transcript[..hashLength], binder);
            return binder;
        }
        finally
        {
            CryptographicOperations.ZeroMemory(early);
            CryptographicOperations.ZeroMemory(binderKey);
            CryptographicOperations.ZeroMemory(finishedKey);
        }
    }

    /// <summary>Constant-time comparison of the offered binder with the one <paramref name="psk"/> gives.</summary>
    public static bool Verifies(NvmePskHash hash, ReadOnlySpan<byte> psk, ReadOnlySpan<byte> truncatedHello, ReadOnlySpan<byte> offeredBinder)
    {
        byte[] expected = Compute(hash, psk, truncatedHello);
        return expected.Length == offeredBinder.Length && CryptographicOperations.FixedTimeEquals(expected, offeredBinder);
    }

    private static void Hash(HashAlgorithmName name, ReadOnlySpan<byte> data, Span<byte> output)
    {
        if (name == HashAlgorithmName.SHA384)
        {
            SHA384.HashData(data, output);
        }
        else
        {
            SHA256.HashData(data, output);
        }
    }
}
