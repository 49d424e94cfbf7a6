using System.Security.Cryptography;
using NvmeMptls.Transport.Nvme.Auth;

namespace NvmeMptls.Crypto.Auth;

/// <summary>The hash functions DH-HMAC-CHAP names by id (reference §5): lengths and .NET names.</summary>
public static class DhChapHashes
{
    public const int MaxLength = 64;

    public static bool IsDefined(DhChapHashId hash) => hash is DhChapHashId.Sha256 or DhChapHashId.Sha384 or DhChapHashId.Sha512;

    public static int Length(DhChapHashId hash) => hash switch
    {
        DhChapHashId.Sha256 => 32,
        DhChapHashId.Sha384 => 48,
        DhChapHashId.Sha512 => 64,
        _ => throw new ArgumentOutOfRangeException(nameof(hash), hash, "DH-HMAC-CHAP hashes are 01 (SHA-256), 02 (SHA-384) and 03 (SHA-512)"),
    };

    public static HashAlgorithmName AlgorithmName(DhChapHashId hash) => hash switch
    {
        DhChapHashId.Sha256 => HashAlgorithmName.SHA256,
        DhChapHashId.Sha384 => HashAlgorithmName.SHA384,
        DhChapHashId.Sha512 => HashAlgorithmName.SHA512,
        _ => throw new ArgumentOutOfRangeException(nameof(hash), hash, "DH-HMAC-CHAP hashes are 01 (SHA-256), 02 (SHA-384) and 03 (SHA-512)"),
    };

    /// <summary>H(data) into <paramref name="destination"/> (hash length bytes).</summary>
    public static void Hash(DhChapHashId hash, ReadOnlySpan<byte> data, Span<byte> destination)
    {
        switch (hash)
        {
            case DhChapHashId.Sha256: SHA256.HashData(data, destination); break;
            case DhChapHashId.Sha384: SHA384.HashData(data, destination); break;
            default: SHA512.HashData(data, destination[..Length(hash)]); break;
        }
    }

    /// <summary>HMAC(key, data) into <paramref name="destination"/> (hash length bytes).</summary>
    public static void Hmac(DhChapHashId hash, ReadOnlySpan<byte> key, ReadOnlySpan<byte> data, Span<byte> destination)
    {
        switch (hash)
        {
            case DhChapHashId.Sha256: HMACSHA256.HashData(key, data, destination); break;
            case DhChapHashId.Sha384: HMACSHA384.HashData(key, data, destination); break;
            default: HMACSHA512.HashData(key, data, destination[..Length(hash)]); break;
        }
    }
}
