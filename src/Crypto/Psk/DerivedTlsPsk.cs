using System.Security.Cryptography;

namespace NvmeMptls.Crypto.Psk;

/// <summary>An identity with the TLS 1.3 external PSK that goes with it; zeroes the key on dispose.</summary>
public sealed class DerivedTlsPsk : IDisposable
{
    private readonly byte[] _tlsPsk;

    public DerivedTlsPsk(NvmePskIdentity identity, byte[] tlsPsk, bool compat)
    {
        Identity = identity;
        _tlsPsk = tlsPsk;
        Compat = compat;
    }

    public NvmePskIdentity Identity { get; }

    /// <summary>True when derived in libnvme 1.10–1.15 "compat" framing (reference §4.4).</summary>
    public bool Compat { get; }

    /// <summary>"v0-rfc", "v0-compat", "v1-rfc" or "v1-compat": identity version and derivation form, for logs and metrics.</summary>
    public string Form => FormName(Identity.Version, Compat);

    public ReadOnlySpan<byte> TlsPsk => _tlsPsk;

    public static string FormName(int identityVersion, bool compat) => (identityVersion, compat) switch
    {
        (0, false) => "v0-rfc",
        (0, true) => "v0-compat",
        (_, false) => "v1-rfc",
        (_, true) => "v1-compat",
    };

    public NvmePskHash Hash => Identity.Hash;

    public void Dispose() => CryptographicOperations.ZeroMemory(_tlsPsk);
}
