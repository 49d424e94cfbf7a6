namespace NvmeMptls.Target.Configuration;

/// <summary>NQN checks for configuration keys; the rules themselves are Transport's <see cref="Transport.Nvme.Nqn"/>, shared with the initiator.</summary>
public static class Nqn
{
    public const int MaxBytes = Transport.Nvme.Nqn.MaxBytes;

    public const string DiscoveryNqn = Transport.Nvme.WellKnownNqns.Discovery;

    public const string UuidPrefix = Transport.Nvme.Nqn.UuidPrefix;

    /// <summary>Null when valid, else a phrase saying what is wrong (for a "KEY: ..." message).</summary>
    public static string? Check(string? nqn) => Transport.Nvme.Nqn.Check(nqn);

    public static bool IsValid(string? nqn) => Check(nqn) is null;
}
