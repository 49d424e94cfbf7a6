using System.Text;
using System.Text.RegularExpressions;

namespace NvmeMptls.Target.Configuration;

/// <summary>NVMe Qualified Names as NVMe Base spec §4.5 defines them.</summary>
public static partial class Nqn
{
    /// <summary>NQNs are at most 223 bytes of UTF-8 (the 256-byte fields leave room for the terminator).</summary>
    public const int MaxBytes = 223;

    public const string DiscoveryNqn = "nqn.2014-08.org.nvmexpress.discovery";

    public const string UuidPrefix = "nqn.2014-08.org.nvmexpress:uuid:";

    /// <summary>Null when valid, else a phrase saying what is wrong (for a "KEY: ..." message).</summary>
    public static string? Check(string? nqn)
    {
        if (string.IsNullOrEmpty(nqn))
        {
            return "is required";
        }

        if (Encoding.UTF8.GetByteCount(nqn) > MaxBytes)
        {
            return $"must be at most {MaxBytes} bytes (was {Encoding.UTF8.GetByteCount(nqn)})";
        }

        if (nqn.StartsWith(UuidPrefix, StringComparison.Ordinal))
        {
            string uuid = nqn[UuidPrefix.Length..];
            return uuid.Length == 36 && Guid.TryParseExact(uuid, "D", out _)
                ? null
                : $"must be {UuidPrefix}<uuid> with a 36-character UUID (was '{nqn}')";
        }

        return NqnPattern().IsMatch(nqn)
            ? null
            : $"must look like nqn.yyyy-mm.reverse.domain:name or {UuidPrefix}<uuid> (was '{nqn}')";
    }

    public static bool IsValid(string? nqn) => Check(nqn) is null;

    // nqn.<year>-<month>.<reverse domain>:<anything non-empty>; the discovery NQN has no ':' and is handled apart.
    [GeneratedRegex(@"^nqn\.[0-9]{4}-(0[1-9]|1[0-2])\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*:\S.*$", RegexOptions.CultureInvariant)]
    private static partial Regex NqnPattern();
}
