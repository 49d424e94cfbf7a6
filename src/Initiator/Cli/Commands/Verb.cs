namespace NvmeMptls.Cli.Commands;

/// <summary>What a verb handler gets: its parsed options and where to write.</summary>
public sealed record VerbContext(string Verb, CommandLine Options, TextWriter Out, TextWriter Error, Stream StandardInput, Stream StandardOutput);

/// <summary>One CLI verb: name, one-line summary, accepted options, and the handler returning the exit status.</summary>
public sealed record Verb(string Name, string Summary, IReadOnlyList<OptionSpec> Options, Func<VerbContext, CancellationToken, Task<int>> Handler)
{
    /// <summary>
    /// For verbs that parse their own arguments (fio job options, NBD/mount options): receives the raw arguments
    /// after the verb instead of <see cref="Handler"/>.
    /// </summary>
    public Func<IReadOnlyList<string>, VerbContext, CancellationToken, Task<int>>? Raw { get; init; }
}

/// <summary>
/// The verb table: <c>nvme-mptls VERB [options]</c>. Other features (nbd, mount, bench, TLS keys, status) add
/// themselves with <see cref="Add"/> from <c>Program</c>; nothing else needs to change.
/// </summary>
public sealed class VerbTable
{
    private readonly Dictionary<string, Verb> _verbs = new(StringComparer.Ordinal);

    public IEnumerable<Verb> Verbs => _verbs.Values;

    public void Add(Verb verb)
    {
        if (!_verbs.TryAdd(verb.Name, verb))
        {
            throw new InvalidOperationException($"verb '{verb.Name}' is registered twice");
        }
    }

    public bool TryGet(string name, out Verb verb) => _verbs.TryGetValue(name, out verb!);
}
