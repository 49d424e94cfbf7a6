namespace NvmeMptls.Transport.Tls;

/// <summary>What a completed NVMe/TCP TLS 1.3 handshake established, for policy checks, logs and status.</summary>
/// <param name="PskIdentity">The PSK identity the client offered and the server selected.</param>
/// <param name="HostNqn">Host NQN carried inside the identity (NVMe0Rxx/NVMe1Rxx form), when parseable.</param>
/// <param name="SubsystemNqn">Subsystem NQN carried inside the identity, when parseable.</param>
/// <param name="CipherSuite">IANA TLS cipher suite number (0x1301, 0x1302).</param>
/// <param name="CipherSuiteName">e.g. "TLS_AES_128_GCM_SHA256".</param>
/// <param name="SealProvider">AEAD provider protecting outgoing records ("openssl-evp", "dotnet-aesgcm", "bouncycastle", "ktls").</param>
/// <param name="OpenProvider">AEAD provider opening incoming records.</param>
/// <param name="KeyExchangeGroup">Negotiated (EC)DHE group name ("x25519", "secp256r1"), when known.</param>
/// <param name="CompatDerivation">True when the PSK matched in libnvme's pre-1.16 "compat" framing.</param>
public sealed record TlsSessionInfo(
    string PskIdentity,
    string? HostNqn,
    string? SubsystemNqn,
    ushort CipherSuite,
    string CipherSuiteName,
    string SealProvider,
    string OpenProvider,
    string? KeyExchangeGroup = null,
    bool CompatDerivation = false);
