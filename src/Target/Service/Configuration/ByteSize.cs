using System.Globalization;

namespace NvmeMptls.Target.Configuration;

/// <summary>
/// Byte counts as people write them: "4096", "512MiB", "1G", "2 TiB". Every unit is binary (K = KiB = KB = 1024);
/// storage people mean binary here and a namespace of "1G" that is not a whole number of 4 KiB blocks would only
/// surprise them.
/// </summary>
public static class ByteSize
{
    private static readonly (string Suffix, int Shift)[] s_units =
    [
        ("KIB", 10), ("MIB", 20), ("GIB", 30), ("TIB", 40), ("PIB", 50),
        ("KB", 10), ("MB", 20), ("GB", 30), ("TB", 40), ("PB", 50),
        ("K", 10), ("M", 20), ("G", 30), ("T", 40), ("P", 50),
        ("B", 0),
    ];

    /// <summary>Parses a non-negative whole number of bytes with an optional binary unit; false on anything else or overflow.</summary>
    public static bool TryParse(string? text, out long bytes)
    {
        bytes = 0;
        if (string.IsNullOrWhiteSpace(text))
        {
            return false;
        }

        ReadOnlySpan<char> span = text.AsSpan().Trim();
        int shift = 0;
        foreach ((string suffix, int unitShift) in s_units)
        {
            if (span.EndsWith(suffix, StringComparison.OrdinalIgnoreCase))
            {
                span = span[..^suffix.Length].TrimEnd();
                shift = unitShift;
                break;
            }
        }

        if (span.IsEmpty || !char.IsAsciiDigit(span[0])
            || !long.TryParse(span, NumberStyles.None, CultureInfo.InvariantCulture, out long number))
        {
            return false;
        }

        if (shift > 0 && number > long.MaxValue >> shift)
        {
            return false;
        }

        bytes = number << shift;
        return true;
    }

    public static long Parse(string text) =>
        TryParse(text, out long bytes) ? bytes : throw new FormatException($"'{text}' is not a size (examples: 4096, 512MiB, 1GiB, 1G)");

    /// <summary>The largest binary unit that divides the value exactly: 1073741824 → "1GiB", 1536 → "1536".</summary>
    public static string Format(long bytes)
    {
        string[] names = ["", "KiB", "MiB", "GiB", "TiB", "PiB"];
        int unit = 0;
        while (unit < names.Length - 1 && bytes != 0 && bytes % 1024 == 0)
        {
            bytes /= 1024;
            unit++;
        }

        return bytes.ToString(CultureInfo.InvariantCulture) + names[unit];
    }
}
