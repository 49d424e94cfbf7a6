using System.Security.Cryptography;
using System.Text;

namespace NvmeMptls.Crypto.Psk;

/// <summary>
/// Server (target) side: configured keys, each optionally restricted to one host NQN and/or subsystem NQN, and the
/// lookup of the TLS PSK for the identity a client offers. For a version 1 identity both the RFC and the compat form
/// are derived and told apart by the digest; a version 0 identity carries no digest, so the entry's configured
/// <see cref="NvmeKeyringEntry.V0Compat"/> decides the form (reference §4.4).
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
    public void Add(ConfiguredPsk key, string? hostNqn = null, string? subsysNqn = null, bool v0Compat = false)
    {
        lock (_lock)
        {
            _entries.Add(new NvmeKeyringEntry(key, hostNqn, subsysNqn, v0Compat));
        }
    }

    /// <summary>Adds a key from its interchange string (throws <see cref="FormatException"/> naming the problem).</summary>
    public void Add(string interchange, string? hostNqn = null, string? subsysNqn = null, bool v0Compat = false) =>
        Add(ConfiguredPsk.Parse(interchange), hostNqn, subsysNqn, v0Compat);

    /// <summary>
    /// Generated (G) PSKs from secure channel concatenation, consulted for <c>NVMe1G…</c> identities; null: such
    /// identities are refused. Not owned: the store belongs to whoever runs the concatenations (the target registry).
    /// </summary>
    public GeneratedPskStore? Generated { get; set; }

    public PskLookupResult Lookup(string offeredIdentity)
    {
        if (!NvmePskIdentity.TryParse(offeredIdentity, out var identity, out string reason))
        {
            return PskLookupResult.Fail(PskLookupFailure.MalformedIdentity, reason);
        }
        if (identity.Generated)
        {
            return LookupGenerated(identity);
        }
        PskLookupFailure restricted = PskLookupFailure.None;
        lock (_lock)
        {
            foreach (var entry in _entries)
            {
                if (entry.Key.CipherHash != identity.Hash)
                {
                    continue;
                }
                bool? compat = MatchingForm(entry, identity);
                if (compat is null)
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
                return PskLookupResult.Success(Derive(entry, identity, compat.Value));
            }
        }
        return restricted switch
        {
            PskLookupFailure.HostNotAllowed => PskLookupResult.Fail(restricted, $"key for this identity is not allowed for host {identity.HostNqn}"),
            PskLookupFailure.SubsystemNotAllowed => PskLookupResult.Fail(restricted, $"key for this identity is not allowed for subsystem {identity.SubsystemNqn}"),
            _ => PskLookupResult.Fail(PskLookupFailure.UnknownIdentity, "no configured key derives this identity"),
        };
    }

    private PskLookupResult LookupGenerated(NvmePskIdentity identity)
    {
        if (Generated is not { } store)
        {
            return PskLookupResult.Fail(PskLookupFailure.GeneratedNotSupported, "generated (G) PSKs need secure channel concatenation (DH-HMAC-CHAP configured)");
        }
        // Ownership of the copy moves to the result's holder (the handshake disposes the selected PSK).
#pragma warning disable CA2000
        var psk = store.Find(identity);
#pragma warning restore CA2000
        return psk is not null
            ? PskLookupResult.Success(psk)
            : PskLookupResult.Fail(PskLookupFailure.UnknownIdentity, "no generated PSK for this identity (never concatenated, expired or replaced)");
    }

    /// <summary>Which framing (false = RFC, true = compat) produces this identity from the entry; null if neither.</summary>
    private static bool? MatchingForm(NvmeKeyringEntry entry, NvmePskIdentity identity)
    {
        if (identity.Version == 0)
        {
            return entry.V0Compat;
        }
        byte[] offered = Encoding.ASCII.GetBytes(identity.Digest!);
        foreach (bool compat in (ReadOnlySpan<bool>)[false, true])
        {
            byte[] retained = NvmePskDerivation.RetainedPsk(entry.Key, identity.HostNqn, compat);
            try
            {
                string digest = NvmePskDerivation.Digest(identity.Hash, retained, identity.HostNqn, identity.SubsystemNqn);
                if (CryptographicOperations.FixedTimeEquals(offered, Encoding.ASCII.GetBytes(digest)))
                {
                    return compat;
                }
            }
            finally
            {
                CryptographicOperations.ZeroMemory(retained);
            }
        }
        return null;
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

/// <summary>One configured key; null NQNs mean "any".</summary>
public sealed record NvmeKeyringEntry(ConfiguredPsk Key, string? HostNqn, string? SubsystemNqn, bool V0Compat);
