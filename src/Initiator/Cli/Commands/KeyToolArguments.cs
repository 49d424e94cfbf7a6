namespace NvmeMptls.Cli.Commands;

/// <summary>
/// nvme-cli's key-tool argument style (<c>--name=value</c>, <c>--name value</c>, short aliases, value-less switches),
/// shared by gen/check-tls-key and gen/check-dhchap-key.
/// </summary>
internal static class KeyToolArguments
{
    /// <summary>Splits <paramref name="args"/> into (name, value) pairs; switches get a null value. False (and a message) when a value is missing.</summary>
    public static bool TrySplit(string[] args, IReadOnlySet<string> switches, TextWriter stderr, out List<(string Name, string? Value)> pairs)
    {
        pairs = [];
        for (int i = 0; i < args.Length; i++)
        {
            string name = args[i];
            string? value = null;
            int eq = name.IndexOf('=', StringComparison.Ordinal);
            if (eq > 0)
            {
                value = name[(eq + 1)..];
                name = name[..eq];
            }
            if (switches.Contains(name))
            {
                pairs.Add((name, null));
                continue;
            }
            if (value is null)
            {
                if (i + 1 >= args.Length)
                {
                    stderr.WriteLine($"option {name} needs a value");
                    return false;
                }
                value = args[++i];
            }
            pairs.Add((name, value));
        }
        return true;
    }
}
