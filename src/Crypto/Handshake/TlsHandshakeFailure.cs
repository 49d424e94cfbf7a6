namespace NvmeMptls.Crypto.Handshake;

/// <summary>Why a handshake failed: one value per countable cause.</summary>
public enum TlsHandshakeFailure
{
    /// <summary>Server: no configured key derives the offered identity. Client: the server answered unknown_psk_identity.</summary>
    UnknownIdentity,
    /// <summary>Server: the identity is not in NVMe form.</summary>
    MalformedIdentity,
    /// <summary>Server: the key for this identity is restricted to another host NQN.</summary>
    HostNotAllowed,
    /// <summary>Server: the key for this identity is restricted to another subsystem NQN.</summary>
    SubsystemNotAllowed,
    /// <summary>Server: a generated (G) identity; secure channel concatenation is not supported.</summary>
    GeneratedNotSupported,
    /// <summary>Same identity, different key: the PSK binder or Finished did not verify (decrypt_error).</summary>
    PskMismatch,
    /// <summary>The peer sent another fatal alert.</summary>
    PeerAlert,
    /// <summary>We detected a protocol error and sent a fatal alert.</summary>
    ProtocolError,
    /// <summary>The handshake did not finish within <see cref="NvmeTlsOptions.HandshakeTimeout"/>.</summary>
    Timeout,
    /// <summary>The carrier closed during the handshake.</summary>
    ConnectionClosed,
    /// <summary>The caller's token was cancelled.</summary>
    Cancelled,
}
