using System.Diagnostics.CodeAnalysis;

namespace NvmeMptls.Crypto.Psk;

/// <summary>Why a keyring did not yield a PSK for an offered identity (countable, one value per cause).</summary>
public enum PskLookupFailure
{
    None = 0,
    /// <summary>The identity is not in the NVMe form (reference §4.3 step 4).</summary>
    MalformedIdentity,
    /// <summary>A generated (G) identity: needs secure channel concatenation, which this keyring does not hold.</summary>
    GeneratedNotSupported,
    /// <summary>No configured key derives this identity.</summary>
    UnknownIdentity,
    /// <summary>A key derives it, but that key is restricted to other host NQNs.</summary>
    HostNotAllowed,
    /// <summary>A key derives it, but that key is restricted to other subsystem NQNs.</summary>
    SubsystemNotAllowed,
}

/// <summary>Outcome of <see cref="NvmePskKeyring.Lookup"/>: the TLS PSK to use, or the failure and a reason.</summary>
public sealed class PskLookupResult
{
    private PskLookupResult(DerivedTlsPsk? psk, PskLookupFailure failure, string reason)
    {
        Psk = psk;
        Failure = failure;
        Reason = reason;
    }

    public DerivedTlsPsk? Psk { get; }
    public PskLookupFailure Failure { get; }
    public string Reason { get; }

    [MemberNotNullWhen(true, nameof(Psk))]
    public bool Found => Psk is not null;

    public static PskLookupResult Success(DerivedTlsPsk psk) => new(psk, PskLookupFailure.None, "");

    public static PskLookupResult Fail(PskLookupFailure failure, string reason) => new(null, failure, reason);
}
