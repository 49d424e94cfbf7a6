using System.Security.Cryptography;
using System.Text;

namespace NvmeMptls.Crypto.Psk;

/// <summary>
/// Server (target) side: configured keys, each optionally restricted to one host NQN and/or subsystem NQN, and the
/// lookup of the TLS PSK for the identity a client offers. For a version 1 identity both the RFC and the compat form
/// are derived and told apart by the digest; a version 0 identity carries no digest, so both forms are candidates and
/// the TLS server keeps the one whose PSK binder verifies, unless the entry's <see cref="NvmeKeyringEntry.V0Compat"/>
/// pins one (reference §4.4).
/// </summary>
public sealed class NvmePskKeyring : IDisposable
{
    private readonly List<NvmeKeyringEntry> _entries = [];
    private readonly Lock _lock = new();

    public int Count
    {
        get
        {
            lock (_lock)
            {
                return _entries.Count;
            }
        }
    }

    /// <summary>Adds a configured key. The keyring takes ownership and zeroes it on dispose.</summary>
    /// <param name="v0Compat">For version 0 identities: null (default) tries both forms by the PSK binder; true or
    /// false pins the compat or the RFC form.</param>
    public void Add(ConfiguredPsk key, string? hostNqn = null, string? subsysNqn = null, bool? v0Compat = null)
    {
        lock (_lock)
        {
            _entries.Add(new NvmeKeyringEntry(key, hostNqn, subsysNqn, v0Compat));
        }
    }

    /// <summary>Adds a key from its interchange string (throws <see cref="FormatException"/> naming the problem).</summary>
    public void Add(string interchange, string? hostNqn = null, string? subsysNqn = null, bool? v0Compat = null) =>
        Add(ConfiguredPsk.Parse(interchange), hostNqn, subsysNqn, v0Compat);

    /// <summary>
    /// Generated (G) PSKs from secure channel concatenation, consulted for <c>NVMe1G…</c> identities; null: such
    /// identities are refused. Not owned: the store belongs to whoever runs the concatenations (the target registry).
    /// </summary>
    public GeneratedPskStore? Generated { get; set; }

    /// <summary>The first PSK <see cref="LookupCandidates"/> yields (RFC form first for a version 0 identity).</summary>
    public PskLookupResult Lookup(string offeredIdentity)
    {
        using PskCandidates candidates = LookupCandidates(offeredIdentity);
        return candidates.Found ? PskLookupResult.Success(candidates.Take(0)) : PskLookupResult.Fail(candidates.Failure, candidates.Reason);
    }

    /// <summary>
    /// Every TLS PSK the configured keys give for the offered identity, in configuration order: for a version 1
    /// identity the one form whose digest matches, for a version 0 identity (no digest) both forms, RFC first, unless
    /// the entry pins one (<see cref="NvmeKeyringEntry.V0Compat"/>). The server keeps the one whose PSK binder
    /// verifies (RFC 8446 §4.2.11.2).
    /// </summary>
    public PskCandidates LookupCandidates(string offeredIdentity)
    {
        if (!NvmePskIdentity.TryParse(offeredIdentity, out var identity, out string reason))
        {
            return PskCandidates.Fail(PskLookupFailure.MalformedIdentity, reason);
        }
        if (identity.Generated)
        {
            return LookupGenerated(identity);
        }
        PskLookupFailure restricted = PskLookupFailure.None;
        var found = new List<DerivedTlsPsk>();
        lock (_lock)
        {
            foreach (var entry in _entries)
            {
                if (entry.Key.CipherHash != identity.Hash)
                {
                    continue;
                }
                ReadOnlySpan<bool> forms = MatchingForms(entry, identity);
                if (forms.IsEmpty)
                {
                    continue;
                }
                if (entry.HostNqn is not null && !string.Equals(entry.HostNqn, identity.HostNqn, StringComparison.Ordinal))
                {
                    restricted = PskLookupFailure.HostNotAllowed;
                    continue;
                }
                if (entry.SubsystemNqn is not null && !string.Equals(entry.SubsystemNqn, identity.SubsystemNqn, StringComparison.Ordinal))
                {
                    restricted = restricted == PskLookupFailure.None ? PskLookupFailure.SubsystemNotAllowed : restricted;
                    continue;
                }
                foreach (bool compat in forms)
                {
                    found.Add(Derive(entry, identity, compat));
                }
            }
        }
        if (found.Count > 0)
        {
            return PskCandidates.Success(found);
        }
        return restricted switch
        {
            PskLookupFailure.HostNotAllowed => PskCandidates.Fail(restricted, $"key for this identity is not allowed for host {identity.HostNqn}"),
            PskLookupFailure.SubsystemNotAllowed => PskCandidates.Fail(restricted, $"key for this identity is not allowed for subsystem {identity.SubsystemNqn}"),
            _ => PskCandidates.Fail(PskLookupFailure.UnknownIdentity, "no configured key derives this identity"),
        };
    }

    private PskCandidates LookupGenerated(NvmePskIdentity identity)
    {
        if (Generated is not { } store)
        {
            return PskCandidates.Fail(PskLookupFailure.GeneratedNotSupported, "generated (G) PSKs need secure channel concatenation (DH-HMAC-CHAP configured)");
        }
        // Ownership of the copy moves to the candidates (the handshake disposes what it does not take).
#pragma warning disable CA2000
        var psk = store.Find(identity);
#pragma warning restore CA2000
        return psk is not null
            ? PskCandidates.Success([psk])
            : PskCandidates.Fail(PskLookupFailure.UnknownIdentity, "no generated PSK for this identity (never concatenated, expired or replaced)");
    }

    private static readonly bool[] s_rfcOnly = [false];
    private static readonly bool[] s_compatOnly = [true];
    private static readonly bool[] s_bothForms = [false, true];

    /// <summary>Which framings (false = RFC, true = compat) may give this identity's PSK from the entry; empty if none.</summary>
    private static ReadOnlySpan<bool> MatchingForms(NvmeKeyringEntry entry, NvmePskIdentity identity)
    {
        if (identity.Version == 0)
        {
            return entry.V0Compat switch
            {
                null => s_bothForms,
                true => s_compatOnly,
                false => s_rfcOnly,
            };
        }
        byte[] offered = Encoding.ASCII.GetBytes(identity.Digest!);
        foreach (bool compat in s_bothForms)
        {
            byte[] retained = NvmePskDerivation.RetainedPsk(entry.Key, identity.HostNqn, compat);
            try
            {
                string digest = NvmePskDerivation.Digest(identity.Hash, retained, identity.HostNqn, identity.SubsystemNqn);
                if (CryptographicOperations.FixedTimeEquals(offered, Encoding.ASCII.GetBytes(digest)))
                {
                    return compat ? s_compatOnly : s_rfcOnly;
                }
            }
            finally
            {
                CryptographicOperations.ZeroMemory(retained);
            }
        }
        return [];
    }

    private static DerivedTlsPsk Derive(NvmeKeyringEntry entry, NvmePskIdentity identity, bool compat)
    {
        byte[] retained = NvmePskDerivation.RetainedPsk(entry.Key, identity.HostNqn, compat);
        try
        {
            return new DerivedTlsPsk(identity, NvmePskDerivation.TlsPsk(identity, retained, compat), compat);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(retained);
        }
    }

    public void Dispose()
    {
        lock (_lock)
        {
            foreach (var entry in _entries)
            {
                entry.Key.Dispose();
            }
            _entries.Clear();
        }
    }
}

/// <summary>One configured key; null NQNs mean "any"; <see cref="V0Compat"/> null: both forms for version 0 identities.</summary>
public sealed record NvmeKeyringEntry(ConfiguredPsk Key, string? HostNqn, string? SubsystemNqn, bool? V0Compat);
