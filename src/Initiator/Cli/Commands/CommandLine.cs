namespace NvmeMptls.Cli.Commands;

/// <summary>One option a verb accepts: <c>--long</c>, optional <c>-x</c>, with or without a value.</summary>
public sealed record OptionSpec(string Long, char? Short, bool TakesValue, string Help, string? ValueName = null);

/// <summary>A command-line mistake: printed with the verb's usage hint, exit status 2.</summary>
public sealed class UsageException(string message) : Exception(message);

/// <summary>The parsed options of one verb invocation (last occurrence of an option wins).</summary>
public sealed class CommandLine
{
    private readonly Dictionary<string, string?> _values;

    private CommandLine(Dictionary<string, string?> values, IReadOnlyList<string> positional)
    {
        _values = values;
        Positional = positional;
    }

    /// <summary>Arguments that are not options (e.g. a device name nvme-cli would take; ignored by most verbs).</summary>
    public IReadOnlyList<string> Positional { get; }

    /// <summary>Parses <c>--name value</c>, <c>--name=value</c>, <c>-x value</c>, <c>-xvalue</c> and flags against <paramref name="specs"/>.</summary>
    public static CommandLine Parse(IReadOnlyList<string> args, IReadOnlyList<OptionSpec> specs)
    {
        var values = new Dictionary<string, string?>(StringComparer.Ordinal);
        var positional = new List<string>();
        for (var i = 0; i < args.Count; i++)
        {
            var arg = args[i];
            OptionSpec? spec;
            string? inline = null;
            if (arg.StartsWith("--", StringComparison.Ordinal) && arg.Length > 2)
            {
                var name = arg[2..];
                var eq = name.IndexOf('=', StringComparison.Ordinal);
                if (eq >= 0)
                {
                    inline = name[(eq + 1)..];
                    name = name[..eq];
                }

                spec = Find(specs, name) ?? throw new UsageException($"unknown option --{name}");
            }
            else if (arg.Length >= 2 && arg[0] == '-' && arg[1] != '-' && !char.IsDigit(arg[1]))
            {
                spec = FindShort(specs, arg[1]) ?? throw new UsageException($"unknown option -{arg[1]}");
                if (arg.Length > 2)
                {
                    inline = arg[2..];
                }
            }
            else
            {
                positional.Add(arg);
                continue;
            }

            if (!spec.TakesValue)
            {
                if (inline is not null)
                {
                    throw new UsageException($"option --{spec.Long} takes no value");
                }

                values[spec.Long] = null;
                continue;
            }

            if (inline is null)
            {
                if (i + 1 >= args.Count)
                {
                    throw new UsageException($"option --{spec.Long} needs a value");
                }

                inline = args[++i];
            }

            values[spec.Long] = inline;
        }

        return new CommandLine(values, positional);
    }

    public bool Has(string name) => _values.ContainsKey(name);

    public string? Get(string name) => _values.GetValueOrDefault(name);

    public string GetOr(string name, string fallback) => _values.TryGetValue(name, out var v) && v is not null ? v : fallback;

    public long GetNumber(string name, long fallback, long min = long.MinValue, long max = long.MaxValue)
    {
        var text = Get(name);
        if (text is null)
        {
            return fallback;
        }

        var ok = text.StartsWith("0x", StringComparison.OrdinalIgnoreCase)
            ? long.TryParse(text.AsSpan(2), System.Globalization.NumberStyles.HexNumber, null, out var value)
            : long.TryParse(text, out value);
        if (!ok || value < min || value > max)
        {
            throw new UsageException($"--{name} '{text}' must be a number in {min}..{max}");
        }

        return value;
    }

    private static OptionSpec? Find(IReadOnlyList<OptionSpec> specs, string name)
    {
        foreach (var spec in specs)
        {
            if (spec.Long == name)
            {
                return spec;
            }
        }

        return null;
    }

    private static OptionSpec? FindShort(IReadOnlyList<OptionSpec> specs, char name)
    {
        foreach (var spec in specs)
        {
            if (spec.Short == name)
            {
                return spec;
            }
        }

        return null;
    }
}
