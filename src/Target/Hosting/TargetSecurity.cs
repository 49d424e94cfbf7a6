using Microsoft.Extensions.Logging;
using NvmeMptls.Target.Configuration;

namespace NvmeMptls.Target.Hosting;

/// <summary>Builds the TLS step from the configured PSKs (null when no port uses TLS or no key is configured).</summary>
public static class TargetSecurity
{
    public static ConnectionSecurity? Create(TargetOptions options, ILoggerFactory loggerFactory)
    {
        _ = loggerFactory;
        if (options.Tls.Keys.IsEmpty)
        {
            return null;
        }

        // The TLS 1.3 handshake lives in NvmeMptls.Crypto; it is wired here once that layer is in place.
        return null;
    }
}
