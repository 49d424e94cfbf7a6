using System.Text;
using NvmeMptls.Crypto.Psk;
using Org.BouncyCastle.Tls;
using Org.BouncyCastle.Tls.Crypto;

namespace NvmeMptls.Crypto.Handshake;

/// <summary>
/// BouncyCastle TLS 1.3 client offering one external PSK with psk_dhe_ke (reference §6.1): one suite matching the
/// PSK hash, no session resumption, no early data, no certificates.
/// </summary>
internal sealed class BcPskTlsClient : AbstractTlsClient
{
    private readonly DerivedTlsPsk _psk;
    private readonly int[] _groups;

    public BcPskTlsClient(TlsCrypto crypto, DerivedTlsPsk psk, int[] groups)
        : base(crypto)
    {
        _psk = psk;
        _groups = groups;
    }

    public TrafficSecrets Secrets { get; } = new();

    public TlsContext Context => m_context;

    protected override ProtocolVersion[] GetSupportedVersions() => ProtocolVersion.TLSv13.Only();

    protected override int[] GetSupportedCipherSuites() => [BcGroups.SuiteFor(_psk.Hash)];

    protected override IList<int> GetSupportedGroups(IList<int> namedGroupRoles) => _groups;

    public override IList<int> GetEarlyKeyShareGroups() => [_groups[0]];

    public override IList<TlsPskExternal> GetExternalPsks()
    {
        byte[] identity = Encoding.ASCII.GetBytes(_psk.Identity.ToString());
        return [new BasicTlsPskExternal(identity, Crypto.CreateSecret(_psk.TlsPsk.ToArray()), BcGroups.PrfFor(_psk.Hash))];
    }

    public override void NotifySelectedPsk(TlsPsk selectedPsk)
    {
        // Without a certificate there is no other way to authenticate the server.
        if (selectedPsk is null)
        {
            throw new TlsFatalAlert(AlertDescription.handshake_failure, "server did not select our PSK");
        }
    }

    public override TlsAuthentication GetAuthentication() =>
        throw new TlsFatalAlert(AlertDescription.handshake_failure, "certificate authentication is not offered");

    public override void NotifyHandshakeComplete()
    {
        base.NotifyHandshakeComplete();
        Secrets.CaptureApplication(m_context);
    }
}
