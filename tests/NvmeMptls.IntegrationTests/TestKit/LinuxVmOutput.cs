namespace NvmeMptls.IntegrationTests.TestKit;

/// <summary>One check the guest reported: "NVMEIOP-CHECK name pass|fail detail".</summary>
public sealed record GuestCheck(string Name, bool Passed, string Detail);

/// <summary>The parsed console of one VM boot: markers, checks, values and the guest's exit status.</summary>
public sealed class LinuxVmOutput
{
    private LinuxVmOutput(int exitCode, int? guestRc, IReadOnlyList<string> lines, TimeSpan elapsed)
    {
        ExitCode = exitCode;
        GuestRc = guestRc;
        Lines = lines;
        Elapsed = elapsed;
    }

    /// <summary>Exit status of run-vm.sh: the guest's, 124 on its timeout.</summary>
    public int ExitCode { get; }

    /// <summary>N of "NVMEVM-GUEST-END rc=N", null when the guest never finished.</summary>
    public int? GuestRc { get; }

    public IReadOnlyList<string> Lines { get; }

    public TimeSpan Elapsed { get; }

    public Dictionary<string, GuestCheck> Checks { get; } = new(StringComparer.Ordinal);

    public Dictionary<string, string> Values { get; } = new(StringComparer.Ordinal);

    public bool GuestStarted => Lines.Any(l => l.StartsWith("NVMEVM-GUEST-START", StringComparison.Ordinal));

    public static LinuxVmOutput Parse(int exitCode, IReadOnlyList<string> lines, TimeSpan elapsed)
    {
        int? rc = null;
        foreach (string line in lines)
        {
            if (line.StartsWith("NVMEVM-GUEST-END rc=", StringComparison.Ordinal)
                && int.TryParse(line.AsSpan("NVMEVM-GUEST-END rc=".Length), out int value))
            {
                rc = value;
            }
        }

        var output = new LinuxVmOutput(exitCode, rc, lines.ToList(), elapsed);
        foreach (string line in lines)
        {
            if (line.StartsWith("NVMEIOP-CHECK ", StringComparison.Ordinal))
            {
                string[] parts = line.Split(' ', 4);
                if (parts.Length >= 3)
                {
                    output.Checks[parts[1]] = new GuestCheck(parts[1], parts[2] == "pass", parts.Length > 3 ? parts[3] : "");
                }
            }
            else if (line.StartsWith("NVMEIOP-VALUE ", StringComparison.Ordinal))
            {
                string rest = line["NVMEIOP-VALUE ".Length..];
                int eq = rest.IndexOf('=', StringComparison.Ordinal);
                if (eq > 0)
                {
                    output.Values[rest[..eq]] = rest[(eq + 1)..];
                }
            }
        }

        return output;
    }

    /// <summary>The console lines, for assertion messages (the tail, if long).</summary>
    public string Console(int tail = 120) =>
        string.Join('\n', Lines.Count > tail ? Lines.Skip(Lines.Count - tail) : Lines);

    /// <summary>Asserts that the guest reported check <paramref name="name"/> as passed.</summary>
    public void AssertCheck(string name, string? context = null)
    {
        Assert.That(Checks.TryGetValue(name, out GuestCheck? check), Is.True,
            $"the guest never reported check '{name}' (guest rc={GuestRc?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "none"}, run-vm.sh rc={ExitCode})\n{Console()}");
        Assert.That(check!.Passed, Is.True, $"guest check '{name}' failed: {check.Detail}\n{context}{Console()}");
    }

    public string Value(string key)
    {
        Assert.That(Values.TryGetValue(key, out string? value), Is.True, $"the guest reported no value '{key}'\n{Console()}");
        return value!;
    }
}
