using Microsoft.Extensions.Logging;

namespace NvmeMptls.Crypto.Handshake;

internal static partial class NvmeTlsLog
{
    [LoggerMessage(EventId = 2001, Level = LogLevel.Information, Message = "TLS handshake done as {Role}: {Suite} group {Group} identity '{Identity}'")]
    public static partial void HandshakeDone(ILogger logger, string role, string suite, string group, string identity);

    [LoggerMessage(EventId = 2002, Level = LogLevel.Warning, Message = "TLS handshake failed as {Role}: {Reason} ({Message})")]
    public static partial void HandshakeFailed(ILogger logger, string role, TlsHandshakeFailure reason, string message);

    [LoggerMessage(EventId = 2003, Level = LogLevel.Warning, Message = "TLS key logging is ON: session secrets are written to {Path}; never use this in production")]
    public static partial void KeyLogEnabled(ILogger logger, string path);

    [LoggerMessage(EventId = 2005, Level = LogLevel.Information, Message = "TLS PSK form {Form} verified by the binder for identity '{Identity}' (forms tried: {FormsTried})")]
    public static partial void PskFormSelected(ILogger logger, string form, string identity, string formsTried);

    [LoggerMessage(EventId = 2004, Level = LogLevel.Information, Message = "kTLS not used, records protected in user space: {Reason}")]
    public static partial void KernelTlsFallback(ILogger logger, string reason);

    [LoggerMessage(EventId = 2006, Level = LogLevel.Warning, Message = "OpenSSL's EVP AES-GCM is not available, records protected by .NET's AesGcm: {Reason}")]
    public static partial void OpenSslFallback(ILogger logger, string reason);
}
