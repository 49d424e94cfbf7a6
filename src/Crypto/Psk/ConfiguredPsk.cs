using System.Buffers.Binary;
using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Security.Cryptography;

namespace NvmeMptls.Crypto.Psk;

/// <summary>
/// A configured PSK in the NVMe TLS interchange format (reference §4.2):
/// <c>NVMeTLSkey-1:HH:&lt;base64(key || crc32_le(key))&gt;:</c>. HH 00 = key used as retained PSK as-is,
/// 01 = SHA-256, 02 = SHA-384; the key is 32 bytes (HH 00/01) or 48 bytes (HH 00/02).
/// </summary>
public sealed class ConfiguredPsk : IDisposable
{
    public const string Prefix = "NVMeTLSkey-1:";
    private readonly byte[] _key;

    public ConfiguredPsk(NvmePskHash hmac, ReadOnlySpan<byte> key)
    {
        if (!IsValidCombination(hmac, key.Length))
        {
            throw new ArgumentException($"a {key.Length}-byte key cannot be used with HMAC {(int)hmac:D2}", nameof(key));
        }
        Hmac = hmac;
        _key = key.ToArray();
    }

    /// <summary>The HH field: the hash that turns this configured key into the retained key.</summary>
    public NvmePskHash Hmac { get; }

    public ReadOnlySpan<byte> Key => _key;

    /// <summary>Hash used for digest and TLS PSK (reference §4.3 step 1).</summary>
    public NvmePskHash CipherHash => Hmac != NvmePskHash.None ? Hmac : NvmePskHashes.ForKeyLength(_key.Length);

    public uint Crc => Crc32Ieee.Compute(_key);

    public static ConfiguredPsk Generate(NvmePskHash hmac)
    {
        int length = hmac == NvmePskHash.Sha384 ? 48 : 32;
        Span<byte> key = stackalloc byte[length];
        RandomNumberGenerator.Fill(key);
        try
        {
            return new ConfiguredPsk(hmac, key);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(key);
        }
    }

    /// <summary>Writes the interchange string (65 characters for a 32-byte key, 89 for 48 bytes).</summary>
    public string ToInterchange() => KeyInterchange.Format(Prefix, (byte)Hmac, _key);

    public static ConfiguredPsk Parse(string text) =>
        TryParse(text, out var psk, out var error) ? psk : throw new FormatException(error.Message);

    /// <summary>Parses and CRC-checks an interchange string; on failure says why (same cases libnvme rejects).</summary>
    public static bool TryParse(string text, [NotNullWhen(true)] out ConfiguredPsk? psk, out PskParseError error)
    {
        psk = null;
        error = default;
        if (!text.StartsWith(Prefix, StringComparison.Ordinal) || text.Length < Prefix.Length + 4
            || text[Prefix.Length + 2] != ':' || text[^1] != ':')
        {
            error = new PskParseError(PskParseFailure.BadFormat, $"not an interchange key (want {Prefix}HH:<base64>:)");
            return false;
        }
        if (!byte.TryParse(text.AsSpan(Prefix.Length, 2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out byte hh)
            || hh > (byte)NvmePskHash.Sha384)
        {
            error = new PskParseError(PskParseFailure.BadHmac, $"invalid HMAC field '{text.Substring(Prefix.Length, 2)}'");
            return false;
        }
        string body = text[(Prefix.Length + 3)..^1];
        var raw = new byte[(body.Length * 3 / 4) + 3];
        try
        {
            if (!Convert.TryFromBase64String(body, raw, out int rawLength))
            {
                error = new PskParseError(PskParseFailure.BadBase64, "key is not valid base64");
                return false;
            }
            int keyLength = rawLength - 4;
            if (!IsValidCombination((NvmePskHash)hh, keyLength))
            {
                error = new PskParseError(PskParseFailure.BadLength, $"invalid key length {keyLength} for HMAC {hh:D2}");
                return false;
            }
            uint expected = BinaryPrimitives.ReadUInt32LittleEndian(raw.AsSpan(keyLength, 4));
            uint actual = Crc32Ieee.Compute(raw.AsSpan(0, keyLength));
            if (expected != actual)
            {
                error = new PskParseError(PskParseFailure.CrcMismatch, $"CRC mismatch (key {expected:x8}, crc {actual:x8})")
                {
                    ComputedCrc = actual,
                    StoredCrc = expected,
                };
                return false;
            }
            psk = new ConfiguredPsk((NvmePskHash)hh, raw.AsSpan(0, keyLength));
            return true;
        }
        finally
        {
            CryptographicOperations.ZeroMemory(raw);
        }
    }

    private static bool IsValidCombination(NvmePskHash hmac, int keyLength) => hmac switch
    {
        NvmePskHash.None => keyLength is 32 or 48,
        NvmePskHash.Sha256 => keyLength == 32,
        NvmePskHash.Sha384 => keyLength == 48,
        _ => false,
    };

    public void Dispose() => CryptographicOperations.ZeroMemory(_key);
}

public enum PskParseFailure
{
    None = 0,
    BadFormat,
    BadHmac,
    BadBase64,
    BadLength,
    CrcMismatch,
}

/// <summary>Why an interchange string was rejected; for a CRC mismatch both values as nvme-cli prints them.</summary>
public readonly record struct PskParseError(PskParseFailure Failure, string Message)
{
    public uint ComputedCrc { get; init; }
    public uint StoredCrc { get; init; }
}
