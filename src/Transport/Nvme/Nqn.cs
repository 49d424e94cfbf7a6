using System.Text;
using System.Text.RegularExpressions;

namespace NvmeMptls.Transport.Nvme;

/// <summary>
/// NVMe Qualified Names (NVMe Base spec §4.5): at most 223 bytes of UTF-8, in one of two forms —
/// <c>nqn.yyyy-mm.reverse.domain:name</c> (the date a domain was owned, the domain reversed, then any name) or
/// <c>nqn.2014-08.org.nvmexpress:uuid:&lt;uuid&gt;</c>. The well-known discovery NQN is valid too.
/// The Connect data (<see cref="ConnectData"/>) carries them NUL-terminated in 256-byte fields.
/// </summary>
public static partial class Nqn
{
    /// <summary>The 256-byte fields leave room for the terminator.</summary>
    public const int MaxBytes = 223;

    public const string UuidPrefix = "nqn.2014-08.org.nvmexpress:uuid:";

    /// <summary>
    /// The rule for an NQN a peer sends (Connect's HOSTNQN, a TLS PSK identity's NQN fields): present, at most 223
    /// bytes, no control characters, starting "nqn.". The name after the prefix is not held to the form our own
    /// configuration must follow, as Linux nvmet does not either: hosts in the field (and the PSK derivation test
    /// vectors, "nqn.psk-test-host") use names such as "nqn.host-1". Null when acceptable, else what is wrong.
    /// </summary>
    public static string? CheckPeer(string? nqn)
    {
        if (string.IsNullOrEmpty(nqn))
        {
            return "is required";
        }

        if (CheckFraming(nqn) is { } problem)
        {
            return problem;
        }

        // NVMe Base §4.5: every NQN starts with "nqn.".
        return nqn.StartsWith("nqn.", StringComparison.Ordinal) ? null : $"must start with \"nqn.\" (was '{nqn}')";
    }

    /// <summary>Null when <paramref name="nqn"/> is a valid NQN, else a phrase saying what is wrong (for "NAME: ..." messages).</summary>
    public static string? Check(string? nqn)
    {
        if (string.IsNullOrEmpty(nqn))
        {
            return "is required";
        }

        if (CheckFraming(nqn) is { } problem)
        {
            return problem;
        }

        if (nqn == WellKnownNqns.Discovery)
        {
            return null;
        }

        // NVMe Base §4.5.2: the UUID form is the fixed prefix and a 36-character UUID (8-4-4-4-12 hex digits).
        if (nqn.StartsWith(UuidPrefix, StringComparison.Ordinal))
        {
            var uuid = nqn[UuidPrefix.Length..];
            return uuid.Length == 36 && Guid.TryParseExact(uuid, "D", out _)
                ? null
                : $"must be {UuidPrefix}<uuid> with a 36-character UUID (was '{nqn}')";
        }

        // NVMe Base §4.5.1: "nqn.", a yyyy-mm date, ".", a reverse domain name, ":", then a name.
        return NqnPattern().IsMatch(nqn)
            ? null
            : $"must look like nqn.yyyy-mm.reverse.domain:name or {UuidPrefix}<uuid> (was '{nqn}')";
    }

    /// <summary>Length and characters: what every NQN, ours or a peer's, must satisfy to cross the wire intact.</summary>
    private static string? CheckFraming(string nqn)
    {
        // NVMe Base §4.5: an NQN shall not exceed 223 bytes (UTF-8).
        var bytes = Encoding.UTF8.GetByteCount(nqn);
        if (bytes > MaxBytes)
        {
            return $"must be at most {MaxBytes} bytes (was {bytes})";
        }

        // The NUL terminates the field on the wire; control characters would not survive logs and file names.
        foreach (var c in nqn)
        {
            if (char.IsControl(c))
            {
                return $"must not contain control characters (was '{nqn.ReplaceLineEndings(" ")}')";
            }
        }

        return null;
    }

    public static bool IsValid(string? nqn) => Check(nqn) is null;

    [GeneratedRegex(@"^nqn\.[0-9]{4}-(0[1-9]|1[0-2])\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*:\S.*$", RegexOptions.CultureInvariant)]
    private static partial Regex NqnPattern();
}

/// <summary>Well-known NQNs.</summary>
public static class WellKnownNqns
{
    /// <summary>The discovery subsystem's NQN (NVMe Base §4.5): every discovery controller answers to it.</summary>
    public const string Discovery = "nqn.2014-08.org.nvmexpress.discovery";

}
