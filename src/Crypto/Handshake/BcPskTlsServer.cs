using System.Text;
using NvmeMptls.Crypto.Psk;
using Org.BouncyCastle.Tls;
using Org.BouncyCastle.Tls.Crypto;

namespace NvmeMptls.Crypto.Handshake;

/// <summary>
/// BouncyCastle TLS 1.3 server that picks the external PSK by the offered identity through an
/// <see cref="NvmePskKeyring"/>; unknown identities are refused with unknown_psk_identity (RFC 8446 §4.2.11).
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

    /// <summary>Why the last offered identity was refused.</summary>
    public PskLookupResult? LastFailure { get; private set; }

    protected override ProtocolVersion[] GetSupportedVersions() => ProtocolVersion.TLSv13.Only();

    protected override int[] GetSupportedCipherSuites() =>
        [CipherSuite.TLS_AES_128_GCM_SHA256, CipherSuite.TLS_AES_256_GCM_SHA384];

    public override int[] GetSupportedGroups() => _groups;

    public override TlsCredentials? GetCredentials() => null;

    public override TlsPskExternal? GetExternalPsk(IList<PskIdentity> identities)
    {
        foreach (PskIdentity offered in identities)
        {
            PskLookupResult result = _keyring.Lookup(Encoding.ASCII.GetString(offered.Identity));
            if (result.Found)
            {
                Selected = result.Psk;
                return new BasicTlsPskExternal(offered.Identity, Crypto.CreateSecret(result.Psk.TlsPsk.ToArray()),
                    BcGroups.PrfFor(result.Psk.Hash));
            }
            LastFailure = result;
        }
        throw new TlsFatalAlert(AlertDescription.unknown_psk_identity, LastFailure?.Reason ?? "no identity offered");
    }

    public override void NotifyHandshakeComplete()
    {
        base.NotifyHandshakeComplete();
        Secrets.CaptureApplication(m_context);
    }
}
