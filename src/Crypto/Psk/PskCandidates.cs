namespace NvmeMptls.Crypto.Psk;

/// <summary>
/// Outcome of <see cref="NvmePskKeyring.LookupCandidates"/>: the TLS PSKs that may belong to an offered identity
/// (owned here and zeroed on dispose unless taken), or the failure and a reason.
/// </summary>
public sealed class PskCandidates : IDisposable
{
    private readonly List<DerivedTlsPsk?> _psks;

    private PskCandidates(List<DerivedTlsPsk?> psks, PskLookupFailure failure, string reason)
    {
        _psks = psks;
        Failure = failure;
        Reason = reason;
    }

    public int Count => _psks.Count;

    public bool Found => _psks.Count > 0;

    public PskLookupFailure Failure { get; }

    public string Reason { get; }

    /// <summary>The candidate at <paramref name="index"/>, still owned by this object.</summary>
    public DerivedTlsPsk this[int index] => _psks[index] ?? throw new InvalidOperationException($"candidate {index} was taken");

    /// <summary>Hands candidate <paramref name="index"/> to the caller, who disposes it from now on.</summary>
    public DerivedTlsPsk Take(int index)
    {
        DerivedTlsPsk psk = this[index];
        _psks[index] = null;
        return psk;
    }

    public static PskCandidates Success(IEnumerable<DerivedTlsPsk> psks) => new([.. psks], PskLookupFailure.None, "");

    public static PskCandidates Fail(PskLookupFailure failure, string reason) => new([], failure, reason);

    public void Dispose()
    {
        foreach (DerivedTlsPsk? psk in _psks)
        {
            psk?.Dispose();
        }
        _psks.Clear();
    }
}
