namespace NvmeMptls.Initiator;

/// <summary>
/// How a controller reaches a namespace (Asymmetric Namespace Access, NVMe Base 2.0 §8.1.3), as its ANA log page
/// (0Ch) says. A controller that does not report ANA reaches all its namespaces <see cref="Optimized"/>.
/// </summary>
public enum NvmeAnaState
{
    /// <summary>The namespace is not in the controller's last ANA log (not read yet, or just added).</summary>
    Unknown = 0,

    /// <summary>The best path: I/O goes here first.</summary>
    Optimized = 1,

    /// <summary>Serves I/O, but worse than an optimized path.</summary>
    NonOptimized = 2,

    /// <summary>Refuses I/O (Asymmetric Access Inaccessible) until the state changes.</summary>
    Inaccessible = 3,

    /// <summary>Refuses I/O for good (Asymmetric Access Persistent Loss).</summary>
    PersistentLoss = 4,

    /// <summary>Changing state: I/O is refused (Asymmetric Access Transition) for up to the controller's ANATT.</summary>
    Change = 15,
}
