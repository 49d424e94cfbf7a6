using System.Buffers.Binary;
using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using NvmeMptls.Crypto.Psk;
using NvmeMptls.Transport.Nvme.Auth;

namespace NvmeMptls.Crypto.Auth;

/// <summary>
/// A DH-HMAC-CHAP secret in its interchange form (reference §5): <c>DHHC-1:XX:&lt;base64(secret || crc32_le(secret))&gt;:</c>.
/// XX names the hash the consumer applies before use (00 none, 01/02/03 SHA-256/384/512, see <see cref="Transform"/>);
/// the secret is 32, 48 or 64 bytes whatever XX says, as the kernel's <c>nvme_auth_extract_key</c> accepts.
/// </summary>
public sealed class DhChapSecret : IDisposable
{
    public const string Prefix = "DHHC-1:";
    private static readonly byte[] TransformSuffix = "NVMe-over-Fabrics"u8.ToArray();
    private readonly byte[] _secret;

    public DhChapSecret(byte transformHash, ReadOnlySpan<byte> secret)
    {
        if (transformHash > (byte)DhChapHashId.Sha512)
        {
            throw new ArgumentOutOfRangeException(nameof(transformHash), transformHash, "XX is 00 (none), 01, 02 or 03");
        }
        if (!IsValidLength(secret.Length))
        {
            throw new ArgumentException($"a DH-HMAC-CHAP secret is 32, 48 or 64 bytes, not {secret.Length}", nameof(secret));
        }
        TransformHash = transformHash;
        _secret = secret.ToArray();
    }

    /// <summary>XX: 0 = use the secret as it is, else the <see cref="DhChapHashId"/> of the transform.</summary>
    public byte TransformHash { get; }

    public int Length => _secret.Length;

    public ReadOnlySpan<byte> Secret => _secret;

    public uint Crc => Crc32Ieee.Compute(_secret);

    public static bool IsValidLength(int length) => length is 32 or 48 or 64;

    /// <summary>
    /// The key HMACs use (kernel <c>nvme_auth_transform_key</c>): the secret itself for XX 00, else
    /// HMAC-H_XX(secret, NQN || "NVMe-over-Fabrics") — NQN is the host NQN for a host secret and the subsystem
    /// NQN for a controller secret. The caller zeroes the result.
    /// </summary>
    public byte[] Transform(string nqn)
    {
        if (TransformHash == 0)
        {
            return _secret.ToArray();
        }
        var hash = (DhChapHashId)TransformHash;
        byte[] data = Concat(Encoding.UTF8.GetBytes(nqn), TransformSuffix);
        var key = new byte[DhChapHashes.Length(hash)];
        DhChapHashes.Hmac(hash, _secret, data, key);
        return key;
    }

    /// <summary>
    /// A new secret the way nvme-cli 2.x <c>gen-dhchap-key</c> makes one: random (or <paramref name="seed"/>) bytes,
    /// and for XX ≠ 00 already transformed with <paramref name="nqn"/>, since nvme-cli 2.x writes
    /// HMAC(secret, NQN || "NVMe-over-Fabrics") into the string (reference §5 caveat).
    /// </summary>
    public static DhChapSecret Generate(byte transformHash, int length, string? nqn, ReadOnlySpan<byte> seed = default)
    {
        if (transformHash > (byte)DhChapHashId.Sha512)
        {
            throw new ArgumentOutOfRangeException(nameof(transformHash), transformHash, "HMAC is 0 (none), 1, 2 or 3");
        }
        if (!IsValidLength(length))
        {
            throw new ArgumentOutOfRangeException(nameof(length), length, "key length is 32, 48 or 64");
        }
        if (transformHash != 0 && length != DhChapHashes.Length((DhChapHashId)transformHash))
        {
            throw new ArgumentException($"HMAC {transformHash} makes a {DhChapHashes.Length((DhChapHashId)transformHash)}-byte key, not {length}", nameof(length));
        }
        if (!seed.IsEmpty && seed.Length != length)
        {
            throw new ArgumentException($"the secret is {seed.Length} bytes, the key length {length}", nameof(seed));
        }
        byte[] raw = new byte[length];
        try
        {
            if (seed.IsEmpty)
            {
                RandomNumberGenerator.Fill(raw);
            }
            else
            {
                seed.CopyTo(raw);
            }
            if (transformHash == 0)
            {
                return new DhChapSecret(0, raw);
            }
            ArgumentException.ThrowIfNullOrEmpty(nqn);
            using var untransformed = new DhChapSecret(transformHash, raw);
            byte[] transformed = untransformed.Transform(nqn);
            try
            {
                return new DhChapSecret(transformHash, transformed);
            }
            finally
            {
                CryptographicOperations.ZeroMemory(transformed);
            }
        }
        finally
        {
            CryptographicOperations.ZeroMemory(raw);
        }
    }

    /// <summary>The interchange string (59, 83 or 103 characters for 32, 48 or 64 bytes).</summary>
    public string ToInterchange() => KeyInterchange.Format(Prefix, TransformHash, _secret);

    public static DhChapSecret Parse(string text) =>
        TryParse(text, out var secret, out string? error) ? secret : throw new FormatException(error);

    /// <summary>Parses and CRC-checks an interchange string; on failure says why, without echoing the key.</summary>
    public static bool TryParse(string text, [NotNullWhen(true)] out DhChapSecret? secret, [NotNullWhen(false)] out string? error)
    {
        secret = null;
        text = text.Trim();
        if (!text.StartsWith(Prefix, StringComparison.Ordinal) || text.Length < Prefix.Length + 4
            || text[Prefix.Length + 2] != ':' || text[^1] != ':')
        {
            error = $"not a DH-HMAC-CHAP secret (want {Prefix}XX:<base64>:)";
            return false;
        }
        if (!byte.TryParse(text.AsSpan(Prefix.Length, 2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out byte xx)
            || xx > (byte)DhChapHashId.Sha512)
        {
            error = $"invalid hash field '{text.Substring(Prefix.Length, 2)}' (00 none, 01 SHA-256, 02 SHA-384, 03 SHA-512)";
            return false;
        }
        string body = text[(Prefix.Length + 3)..^1];
        var raw = new byte[(body.Length * 3 / 4) + 3];
        try
        {
            if (!Convert.TryFromBase64String(body, raw, out int rawLength))
            {
                error = "secret is not valid base64";
                return false;
            }
            int keyLength = rawLength - 4;
            // Kernel nvme_auth_extract_key: the decoded secret with its CRC is 36, 52 or 68 bytes.
            if (!IsValidLength(keyLength))
            {
                error = $"invalid secret length {Math.Max(keyLength, 0)} (32, 48 or 64 bytes)";
                return false;
            }
            uint stored = BinaryPrimitives.ReadUInt32LittleEndian(raw.AsSpan(keyLength, 4));
            uint computed = Crc32Ieee.Compute(raw.AsSpan(0, keyLength));
            if (stored != computed)
            {
                error = $"CRC mismatch (key {stored:x8}, crc {computed:x8})";
                return false;
            }
            secret = new DhChapSecret(xx, raw.AsSpan(0, keyLength));
            error = null;
            return true;
        }
        finally
        {
            CryptographicOperations.ZeroMemory(raw);
        }
    }

    private static byte[] Concat(byte[] a, byte[] b)
    {
        var result = new byte[a.Length + b.Length];
        a.CopyTo(result, 0);
        b.CopyTo(result, a.Length);
        return result;
    }

    public void Dispose() => CryptographicOperations.ZeroMemory(_secret);
}
