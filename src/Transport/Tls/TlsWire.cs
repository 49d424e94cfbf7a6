namespace NvmeMptls.Transport.Tls;

/// <summary>RFC 8446 §5.1 ContentType values.</summary>
public enum TlsContentType : byte
{
    Invalid = 0,
    ChangeCipherSpec = 20,
    Alert = 21,
    Handshake = 22,
    ApplicationData = 23,
}

/// <summary>RFC 8446 §6 AlertDescription values this layer sends or recognises.</summary>
public enum TlsAlertDescription : byte
{
    CloseNotify = 0,
    UnexpectedMessage = 10,
    BadRecordMac = 20,
    RecordOverflow = 22,
    HandshakeFailure = 40,
    IllegalParameter = 47,
    DecodeError = 50,
    DecryptError = 51,
    InternalError = 80,
    MissingExtension = 109,
    UserCanceled = 90,
    UnknownPskIdentity = 115,
}

/// <summary>RFC 8446 §4 HandshakeType values that can arrive after the handshake.</summary>
public enum TlsHandshakeType : byte
{
    NewSessionTicket = 4,
    KeyUpdate = 24,
}

/// <summary>Record-layer sizes of RFC 8446 §5.1–§5.2.</summary>
public static class TlsRecordLimits
{
    /// <summary>type(1) legacy_record_version(2) length(2).</summary>
    public const int HeaderLength = 5;
    /// <summary>§5.1: TLSPlaintext.length MUST NOT exceed 2^14.</summary>
    public const int MaxPlaintext = 1 << 14;
    /// <summary>§5.2: TLSCiphertext.length MUST NOT exceed 2^14 + 256.</summary>
    public const int MaxCiphertext = (1 << 14) + 256;
    public const int TagLength = 16;
    /// <summary>What sealing adds to a record's content on the wire: the header, the inner content type byte and the tag.</summary>
    public const int SealOverhead = HeaderLength + 1 + TagLength;
    public const int NonceLength = 12;
    /// <summary>§5.1: legacy_record_version is 0x0303 for all records except an initial ClientHello.</summary>
    public const ushort LegacyVersion = 0x0303;
    public const ushort Tls13Version = 0x0304;
}
