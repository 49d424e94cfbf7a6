namespace NvmeMptls.Target.Gateway;

/// <summary>
/// The lock cookie a gateway takes a lease with: its member name, a nonce of this process's run, and the Ceph client
/// addresses that write the group's images (plus the lease client's own), so a gateway taking the lease over knows
/// whom to fence: "NAME;NONCE;ADDR,ADDR". Addresses are "IP:PORT/NONCE" as `ceph osd blocklist add` takes them.
/// </summary>
public sealed record GatewayCookie(string Name, string Nonce, IReadOnlyList<string> Addresses)
{
    public static GatewayCookie Create(string name, IEnumerable<string> addresses) =>
        new(name, Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(8)), addresses.Distinct(StringComparer.Ordinal).ToArray());

    public override string ToString() => $"{Name};{Nonce};{string.Join(',', Addresses)}";

    public static GatewayCookie? TryParse(string? text)
    {
        if (string.IsNullOrEmpty(text))
        {
            return null;
        }

        string[] parts = text.Split(';');
        if (parts.Length != 3 || parts[0].Length == 0 || parts[1].Length == 0)
        {
            return null;
        }

        return new GatewayCookie(parts[0], parts[1], parts[2].Split(',', StringSplitOptions.RemoveEmptyEntries));
    }

    /// <summary>The "IP:PORT/NONCE" entries of a rados_getaddrs string such as "[v2:127.0.0.1:0/123,v1:127.0.0.1:0/123]".</summary>
    public static IEnumerable<string> ParseClientAddresses(string addresses)
    {
        foreach (string raw in addresses.Trim('[', ']', ' ').Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            string a = raw.StartsWith("v1:", StringComparison.Ordinal) || raw.StartsWith("v2:", StringComparison.Ordinal) ? raw[3..]
                : raw.StartsWith("any:", StringComparison.Ordinal) ? raw[4..] : raw;
            if (a.Contains('/', StringComparison.Ordinal) && a.Contains(':', StringComparison.Ordinal))
            {
                yield return a;
            }
        }
    }
}
