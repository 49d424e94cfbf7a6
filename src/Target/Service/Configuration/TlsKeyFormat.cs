namespace NvmeMptls.Target.Configuration;

/// <summary>
/// Shape check of a configured PSK in interchange format (nvme-tcp.md §4.2):
/// <c>NVMeTLSkey-1:HH:base64(key || CRC32):</c>. The CRC itself is checked by the crypto layer when it imports
/// the key; configuration only makes sure the string can be one.
/// </summary>
public static class TlsKeyFormat
{
    public const string Prefix = "NVMeTLSkey-1:";

    /// <summary>Null when the shape is right, else a phrase saying what is wrong. Never quotes the key itself.</summary>
    public static string? Check(string? key)
    {
        if (string.IsNullOrEmpty(key))
        {
            return "is required";
        }

        if (!key.StartsWith(Prefix, StringComparison.Ordinal) || key.Length < Prefix.Length + 4 || key[Prefix.Length + 2] != ':' || key[^1] != ':')
        {
            return $"must have the form {Prefix}HH:<base64>: (a {key.Length}-character value was given)";
        }

        string hash = key.Substring(Prefix.Length, 2);
        if (hash is not ("00" or "01" or "02"))
        {
            return $"hash indicator must be 00, 01 or 02 (was {hash})";
        }

        string base64 = key[(Prefix.Length + 3)..^1];
        Span<byte> decoded = stackalloc byte[64];
        bool parsed = Convert.TryFromBase64String(base64, decoded, out int length);

        // Only the length was needed: the key bytes do not outlive the check.
        System.Security.Cryptography.CryptographicOperations.ZeroMemory(decoded);
        if (!parsed)
        {
            return "key part is not valid base64 of 36 or 52 bytes";
        }

        // 32 or 48 key bytes plus the 4-byte CRC; 01 means SHA-256 (32-byte key), 02 SHA-384 (48-byte key).
        int keyBytes = length - 4;
        if (keyBytes is not (32 or 48))
        {
            return $"key must be 32 or 48 bytes plus a 4-byte CRC (decoded to {length} bytes)";
        }

        if ((hash == "01" && keyBytes != 32) || (hash == "02" && keyBytes != 48))
        {
            return $"hash indicator {hash} needs a {(hash == "01" ? 32 : 48)}-byte key (was {keyBytes})";
        }

        return null;
    }
}
