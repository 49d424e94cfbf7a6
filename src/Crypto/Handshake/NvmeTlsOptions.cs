using Microsoft.Extensions.Logging;
using NvmeMptls.Transport.Tls;

namespace NvmeMptls.Crypto.Handshake;

/// <summary>Which AEAD implementation protects records after the handshake.</summary>
public enum TlsRecordProvider
{
    /// <summary>.NET <c>AesGcm</c> in our record layer.</summary>
    DotNetAesGcm,
    /// <summary>BouncyCastle's managed GCM in our record layer (no native crypto needed).</summary>
    BouncyCastle,
    /// <summary>Linux kTLS on the underlying socket when the kernel accepts it, else <see cref="OpenSsl"/> in user space with one log line.</summary>
    KernelTls,
    /// <summary>
    /// OpenSSL 3's EVP AES-GCM in our record layer, one context per key and direction (default); where libcrypto 3
    /// cannot be loaded, <see cref="DotNetAesGcm"/> with one log line.
    /// </summary>
    OpenSsl,
}

/// <summary>(EC)DHE groups offered/accepted with psk_dhe_ke.</summary>
public enum TlsKeyExchangeGroup
{
    X25519,
    Secp256r1,
    Secp384r1,
}

/// <summary>Immutable handshake options; use <see cref="Default"/> and <c>with</c>.</summary>
public sealed record NvmeTlsOptions
{
    public static NvmeTlsOptions Default { get; } = new();

    public TimeSpan HandshakeTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Groups in preference order; the client sends a key share for the first.</summary>
    public IReadOnlyList<TlsKeyExchangeGroup> Groups { get; init; } = [TlsKeyExchangeGroup.X25519, TlsKeyExchangeGroup.Secp256r1];

    public TlsRecordProvider RecordProvider { get; init; } = TlsRecordProvider.OpenSsl;

    public TlsRecordLayerOptions RecordLayer { get; init; } = TlsRecordLayerOptions.Default;

    /// <summary>When set, NSS key log lines (SSLKEYLOGFILE format) are appended here. Debug only: it discloses the session keys.</summary>
    public string? KeyLogPath { get; init; }

    public ILoggerFactory? LoggerFactory { get; init; }

    public void Validate()
    {
        if (HandshakeTimeout <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(HandshakeTimeout), HandshakeTimeout, "must be positive");
        }
        if (Groups.Count == 0)
        {
            throw new ArgumentException("at least one key exchange group is needed for psk_dhe_ke", nameof(Groups));
        }
        RecordLayer.Validate();
    }
}
