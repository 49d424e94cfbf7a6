namespace NvmeMptls.Transport.Nvme;

/// <summary>
/// Asymmetric Namespace Access states (NVMe Base 2.0 §8.1.3, Figure 227): how a controller's port reaches the
/// namespaces of one ANA group. 0 and 05h–0Eh are reserved.
/// </summary>
public enum AnaState : byte
{
    Optimized = 0x01,
    NonOptimized = 0x02,
    Inaccessible = 0x03,
    PersistentLoss = 0x04,
    Change = 0x0F,
}

/// <summary>What an ANA state means for I/O on the path.</summary>
public static class AnaStates
{
    /// <summary>True for the values the specification defines.</summary>
    public static bool IsDefined(byte value) => value is >= 1 and <= 4 or 0x0F;

    /// <summary>Optimized and non-optimized paths serve I/O; the others refuse it with a path-related status.</summary>
    public static bool ServesIo(AnaState state) => state is AnaState.Optimized or AnaState.NonOptimized;

    /// <summary>
    /// The status an I/O command gets on a path in <paramref name="state"/> (NVMe Base 2.0 §8.1.3.3–§8.1.3.5): SCT 3h
    /// Asymmetric Access Inaccessible, Persistent Loss or Transition, without DNR so the host retries elsewhere.
    /// Success for the states that serve I/O.
    /// </summary>
    public static NvmeStatus IoStatus(AnaState state) => state switch
    {
        AnaState.Inaccessible => new NvmeStatus(NvmeStatusCodes.AnaInaccessible),
        AnaState.PersistentLoss => new NvmeStatus(NvmeStatusCodes.AnaPersistentLoss),
        AnaState.Change => new NvmeStatus(NvmeStatusCodes.AnaTransition),
        _ => NvmeStatus.Success,
    };

    /// <summary>The names nvme-cli prints and our configuration accepts.</summary>
    public static string Name(AnaState state) => state switch
    {
        AnaState.Optimized => "optimized",
        AnaState.NonOptimized => "non-optimized",
        AnaState.Inaccessible => "inaccessible",
        AnaState.PersistentLoss => "persistent-loss",
        AnaState.Change => "change",
        _ => "reserved",
    };

    /// <summary>Parses one of <see cref="Name"/>'s names (case-insensitive).</summary>
    public static bool TryParse(string? text, out AnaState state)
    {
        state = default;
        foreach (var candidate in (ReadOnlySpan<AnaState>)[AnaState.Optimized, AnaState.NonOptimized, AnaState.Inaccessible, AnaState.PersistentLoss, AnaState.Change])
        {
            if (string.Equals(text, Name(candidate), StringComparison.OrdinalIgnoreCase))
            {
                state = candidate;
                return true;
            }
        }

        return false;
    }
}
