using System.Text;
using NvmeMptls.Crypto.Psk;
using Org.BouncyCastle.Tls;
using Org.BouncyCastle.Tls.Crypto;

namespace NvmeMptls.Crypto.Handshake;

/// <summary>
/// BouncyCastle TLS 1.3 server that picks the external PSK by the offered identity through an
/// <see cref="NvmePskKeyring"/> and the identity's PSK binder (<see cref="SelectFromClientHello"/>); unknown identities
/// are refused with unknown_psk_identity, known ones whose binder verifies with no candidate key with decrypt_error.
/// </summary>
internal sealed class BcPskTlsServer : AbstractTlsServer
{
    private readonly NvmePskKeyring _keyring;
    private readonly int[] _groups;

    public BcPskTlsServer(TlsCrypto crypto, NvmePskKeyring keyring, int[] groups)
        : base(crypto)
    {
        _keyring = keyring;
        _groups = groups;
    }

    public TrafficSecrets Secrets { get; } = new();

    public TlsContext Context => m_context;

    /// <summary>The PSK chosen for the identity the client offered (owned by this server object's caller).</summary>
    public DerivedTlsPsk? Selected { get; private set; }

    /// <summary>Why the handshake was refused while choosing the PSK (null: not refused there).</summary>
    public TlsHandshakeFailure? Refusal { get; private set; }

    /// <summary>What the refusal log says beyond <see cref="Refusal"/>; never key bytes.</summary>
    public string RefusalDetail { get; private set; } = "";

    /// <summary>The identities the client offered, printable (non-ASCII shown as '?'), for logs.</summary>
    public string OfferedIdentity { get; private set; } = "";

    /// <summary>The derivation forms whose binder was checked ("v0-rfc, v0-compat"), for logs.</summary>
    public string FormsTried { get; private set; } = "";

    private byte[]? _selectedIdentity;

    protected override ProtocolVersion[] GetSupportedVersions() => ProtocolVersion.TLSv13.Only();

    protected override int[] GetSupportedCipherSuites() =>
        [CipherSuite.TLS_AES_128_GCM_SHA256, CipherSuite.TLS_AES_256_GCM_SHA384];

    public override int[] GetSupportedGroups() => _groups;

    public override TlsCredentials? GetCredentials() => null;

    /// <summary>
    /// Called with the client's first ClientHello before BouncyCastle sees it: for each offered identity, every TLS PSK
    /// the keyring gives (both derivation forms for a version 0 identity) is checked against the identity's binder
    /// (RFC 8446 §4.2.11.2), and the one that verifies is kept for <see cref="GetExternalPsk"/>. Throws the alert to
    /// send when none does: unknown_psk_identity when no key gives any offered identity, decrypt_error when keys do but
    /// no binder verifies (RFC 8446 §4.2.11: the server MUST validate the binder and abort if it does not; §6.2).
    /// </summary>
    public void SelectFromClientHello(ClientHelloPsks offered)
    {
        var tried = new List<string>();
        var names = new List<string>();
        PskCandidates? lastLookup = null;
        bool anyCandidate = false;
        try
        {
            for (int i = 0; i < offered.Identities.Count && Selected is null; i++)
            {
                string identity = Encoding.ASCII.GetString(offered.Identities[i]);
                names.Add(Printable(identity));
                lastLookup?.Dispose();
                lastLookup = _keyring.LookupCandidates(identity);
                for (int c = 0; c < lastLookup.Count; c++)
                {
                    anyCandidate = true;
                    DerivedTlsPsk candidate = lastLookup[c];
                    if (!tried.Contains(candidate.Form))
                    {
                        tried.Add(candidate.Form);
                    }
                    if (PskBinder.Verifies(candidate.Hash, candidate.TlsPsk, offered.TruncatedHello, offered.Binders[i]))
                    {
                        Selected = lastLookup.Take(c);
                        _selectedIdentity = offered.Identities[i];
                        break;
                    }
                }
            }
            OfferedIdentity = string.Join(", ", names);
            FormsTried = tried.Count == 0 ? "none" : string.Join(", ", tried);
            if (Selected is not null)
            {
                return;
            }
            if (anyCandidate)
            {
                Refusal = TlsHandshakeFailure.PskMismatch;
                RefusalDetail = "the PSK binder verifies with none of the configured keys in the forms tried";
                throw new TlsFatalAlert(AlertDescription.decrypt_error, RefusalDetail);
            }
            Refusal = MapLookup(lastLookup?.Failure ?? PskLookupFailure.UnknownIdentity);
            RefusalDetail = lastLookup?.Reason is { Length: > 0 } reason ? reason : "no identity offered";
            throw new TlsFatalAlert(AlertDescription.unknown_psk_identity, RefusalDetail);
        }
        finally
        {
            lastLookup?.Dispose();
        }
    }

    public override TlsPskExternal? GetExternalPsk(IList<PskIdentity> identities)
    {
        foreach (PskIdentity offered in identities)
        {
            if (Selected is not null && offered.Identity.AsSpan().SequenceEqual(_selectedIdentity))
            {
                return new BasicTlsPskExternal(offered.Identity, Crypto.CreateSecret(Selected.TlsPsk.ToArray()), BcGroups.PrfFor(Selected.Hash));
            }
        }
        // Only reached when the ClientHello was not checked first (the pump always does) or a second ClientHello
        // (after HelloRetryRequest) no longer offers the identity whose binder verified.
        Refusal ??= TlsHandshakeFailure.UnknownIdentity;
        RefusalDetail = RefusalDetail.Length > 0 ? RefusalDetail : "the identity whose binder verified is not offered";
        throw new TlsFatalAlert(AlertDescription.unknown_psk_identity, RefusalDetail);
    }

    private static TlsHandshakeFailure MapLookup(PskLookupFailure failure) => failure switch
    {
        PskLookupFailure.MalformedIdentity => TlsHandshakeFailure.MalformedIdentity,
        PskLookupFailure.HostNotAllowed => TlsHandshakeFailure.HostNotAllowed,
        PskLookupFailure.SubsystemNotAllowed => TlsHandshakeFailure.SubsystemNotAllowed,
        PskLookupFailure.GeneratedNotSupported => TlsHandshakeFailure.GeneratedNotSupported,
        _ => TlsHandshakeFailure.UnknownIdentity,
    };

    /// <summary>The offered identity as a log can show it: printable ASCII, at most 300 characters.</summary>
    private static string Printable(string identity)
    {
        var text = new StringBuilder(Math.Min(identity.Length, 300));
        foreach (char c in identity.AsSpan(0, Math.Min(identity.Length, 300)))
        {
            text.Append(c is >= ' ' and <= '~' ? c : '?');
        }
        return identity.Length > 300 ? text.Append('…').ToString() : text.ToString();
    }

    public override void NotifyHandshakeComplete()
    {
        base.NotifyHandshakeComplete();
        Secrets.CaptureApplication(m_context);
    }
}
