using System.Collections.Immutable;
using NvmeMptls.Transport.Nvme;

namespace NvmeMptls.Target.Configuration;

/// <summary>
/// Asymmetric Namespace Access (section "Target:Ana"): target-wide settings. Each namespace names its group
/// (<see cref="NamespaceOptions.AnaGroup"/>) and each port its state per group (<see cref="PortOptions.AnaStates"/>).
/// </summary>
public sealed record AnaOptions
{
    /// <summary>ANATT: seconds a group may stay in the change state (1..255); a Linux host resets the controller after twice this.</summary>
    public int TransitionTimeSeconds { get; init; } = 10;
}

/// <summary>
/// One port's ANA state per group ("AnaStates": { "2": "inaccessible" }); groups not listed are optimized on that
/// port. Compares by content, so a reload that leaves it alone is seen as unchanged.
/// </summary>
public sealed class AnaStateMap : IEquatable<AnaStateMap>
{
    public static AnaStateMap Empty { get; } = new(ImmutableSortedDictionary<uint, AnaState>.Empty);

    public AnaStateMap(ImmutableSortedDictionary<uint, AnaState> states) => States = states;

    public ImmutableSortedDictionary<uint, AnaState> States { get; }

    public bool Equals(AnaStateMap? other) =>
        other is not null && States.Count == other.States.Count && States.All(kv => other.States.TryGetValue(kv.Key, out var s) && s == kv.Value);

    public override bool Equals(object? obj) => Equals(obj as AnaStateMap);

    public override int GetHashCode()
    {
        var hash = new HashCode();
        foreach (var (group, state) in States)
        {
            hash.Add(group);
            hash.Add(state);
        }

        return hash.ToHashCode();
    }

    public override string ToString() => string.Join(", ", States.Select(kv => $"{kv.Key}={AnaStates.Name(kv.Value)}"));
}
