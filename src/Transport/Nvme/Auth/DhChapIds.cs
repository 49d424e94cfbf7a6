namespace NvmeMptls.Transport.Nvme.Auth;

/// <summary>DH-HMAC-CHAP hash function identifiers (HashID, the idlist of a Negotiate descriptor). Reference §5.</summary>
public enum DhChapHashId : byte
{
    Sha256 = 0x01,
    Sha384 = 0x02,
    Sha512 = 0x03,
}

/// <summary>DH-HMAC-CHAP Diffie-Hellman group identifiers (DHgID): none, or an RFC 7919 FFDHE group. Reference §5.</summary>
public enum DhChapGroupId : byte
{
    Null = 0x00,
    Ffdhe2048 = 0x01,
    Ffdhe3072 = 0x02,
    Ffdhe4096 = 0x03,
    Ffdhe6144 = 0x04,
    Ffdhe8192 = 0x05,
}

/// <summary>
/// Reason code explanations of a DH-HMAC-CHAP_Failure1/Failure2 message (the reason code itself is always
/// 01h, "authentication failure"). Reference §5.
/// </summary>
public enum AuthFailureReason : byte
{
    Failed = 0x01,
    NotUsable = 0x02,
    ConcatMismatch = 0x03,
    HashUnusable = 0x04,
    DhGroupUnusable = 0x05,
    IncorrectPayload = 0x06,
    IncorrectMessage = 0x07,
}

/// <summary>Names of the identifiers as nvme-cli and the kernel print them ("hmac(sha256)", "ffdhe2048").</summary>
public static class DhChapNames
{
    public static string Of(DhChapHashId hash) => hash switch
    {
        DhChapHashId.Sha256 => "sha256",
        DhChapHashId.Sha384 => "sha384",
        DhChapHashId.Sha512 => "sha512",
        _ => $"hash {(byte)hash:x2}",
    };

    public static string Of(DhChapGroupId group) => group switch
    {
        DhChapGroupId.Null => "null",
        DhChapGroupId.Ffdhe2048 => "ffdhe2048",
        DhChapGroupId.Ffdhe3072 => "ffdhe3072",
        DhChapGroupId.Ffdhe4096 => "ffdhe4096",
        DhChapGroupId.Ffdhe6144 => "ffdhe6144",
        DhChapGroupId.Ffdhe8192 => "ffdhe8192",
        _ => $"group {(byte)group:x2}",
    };

    public static string Of(AuthFailureReason reason) => reason switch
    {
        AuthFailureReason.Failed => "authentication failed",
        AuthFailureReason.NotUsable => "authentication protocol not usable",
        AuthFailureReason.ConcatMismatch => "secure channel concatenation mismatch",
        AuthFailureReason.HashUnusable => "hash function not usable",
        AuthFailureReason.DhGroupUnusable => "DH group not usable",
        AuthFailureReason.IncorrectPayload => "incorrect payload",
        AuthFailureReason.IncorrectMessage => "incorrect protocol message",
        _ => $"reason {(byte)reason:x2}",
    };

    public static bool TryParseHash(string text, out DhChapHashId hash)
    {
        foreach (var candidate in new[] { DhChapHashId.Sha256, DhChapHashId.Sha384, DhChapHashId.Sha512 })
        {
            if (string.Equals(text, Of(candidate), StringComparison.OrdinalIgnoreCase)
                || string.Equals(text, $"hmac({Of(candidate)})", StringComparison.OrdinalIgnoreCase))
            {
                hash = candidate;
                return true;
            }
        }
        hash = default;
        return false;
    }

    public static bool TryParseGroup(string text, out DhChapGroupId group)
    {
        for (var candidate = DhChapGroupId.Null; candidate <= DhChapGroupId.Ffdhe8192; candidate++)
        {
            if (string.Equals(text, Of(candidate), StringComparison.OrdinalIgnoreCase))
            {
                group = candidate;
                return true;
            }
        }
        group = default;
        return false;
    }
}
