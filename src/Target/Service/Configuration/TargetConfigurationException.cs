using System.Collections.Immutable;

namespace NvmeMptls.Target.Configuration;

/// <summary>The configuration cannot be used; <see cref="Errors"/> holds every problem, each naming its key.</summary>
public sealed class TargetConfigurationException : Exception
{
    public TargetConfigurationException(IEnumerable<string> errors)
        : this(errors.ToImmutableArray())
    {
    }

    private TargetConfigurationException(ImmutableArray<string> errors)
        : base("Invalid target configuration:" + Environment.NewLine + "  " + string.Join(Environment.NewLine + "  ", errors))
    {
        Errors = errors;
    }

    public ImmutableArray<string> Errors { get; }
}
