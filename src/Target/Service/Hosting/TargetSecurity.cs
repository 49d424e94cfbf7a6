using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using NvmeMptls.Crypto.Handshake;
using NvmeMptls.Crypto.Psk;
using NvmeMptls.Target.Configuration;
using NvmeMptls.Target.Server;
using NvmeMptls.Transport.Tls;

namespace NvmeMptls.Target.Hosting;

/// <summary>Builds the TLS step from the configured PSKs (null when no key is configured).</summary>
public static partial class TargetSecurity
{
    /// <param name="generated">The registry's generated PSKs (secure channel concatenation): with DH-HMAC-CHAP configured,
    /// the TLS step exists even without configured keys, so a host can come back with its <c>NVMe1G…</c> identity.</param>
    public static ConnectionSecurity? Create(TargetOptions options, ILoggerFactory loggerFactory, TlsHandshakeCounters? counters = null, ITargetObserver? metrics = null,
        GeneratedPskStore? generated = null)
    {
        if (options.DhChap.Hosts.IsEmpty)
        {
            generated = null;
        }

        if (options.Tls.Keys.IsEmpty && generated is null)
        {
            return null;
        }

        var logger = loggerFactory.CreateLogger("NvmeMptls.Target.Tls");
        var keyring = new NvmePskKeyring { Generated = generated };
        foreach (var key in options.Tls.Keys)
        {
            // V0Compat unset: both forms are tried for version 0 identities, by the PSK binder.
            keyring.Add(key.ReadKey(), key.HostNqn, key.SubsystemNqn, key.V0Compat);
        }

        var tls = NvmeTlsOptions.Default with
        {
            HandshakeTimeout = options.Tls.HandshakeTimeout,
            KeyLogPath = options.Tls.KeyLogFile,
            LoggerFactory = loggerFactory,
            RecordLayer = TlsRecordLayerOptions.Default with
            {
                KeyLimitPolicy = ToPolicy(options.Tls.KeyUpdate),
                KeyLimitRecords = options.Tls.KeyLimitRecords ?? TlsRecordLayerOptions.Default.KeyLimitRecords,
                InlineReader = options.SendMode == Tcp.QueueSendMode.Burst,
            },
        };
        if (tls.KeyLogPath is not null)
        {
            Log.KeyLogOn(logger, tls.KeyLogPath);
        }

        return new ConnectionSecurity(async (connection, port, ct) =>
        {
            try
            {
                var secured = await NvmeTls.AcceptAsync(connection, keyring, tls, ct).ConfigureAwait(false);
                string form = PskForm(secured.Tls);
                counters?.Count("ok");
                counters?.CountForm(form);
                metrics?.TlsHandshake(true, "", form);
                return secured;
            }
            catch (TlsHandshakeException ex)
            {
                counters?.Count(ex.Reason.ToString());
                metrics?.TlsHandshake(false, ex.Reason.ToString());
                Log.HandshakeRefused(logger, connection.RemoteEndPoint?.ToString() ?? "?", port.Port, ex.Reason.ToString(),
                    ex.OfferedIdentity.Length > 0 ? ex.OfferedIdentity : "(none read)", ex.FormsTried.Length > 0 ? ex.FormsTried : "none", ex.Message);
                return null;
            }
        }, counters, keyring);
    }

    /// <summary>The metric's form label of an accepted session: identity version and derivation ("v0-compat", "v1-rfc"…).</summary>
    public static string PskForm(TlsSessionInfo? session) =>
        session is { PskIdentity: ['N', 'V', 'M', 'e', var version, ..] }
            ? DerivedTlsPsk.FormName(version - '0', session.CompatDerivation)
            : "";

    /// <summary>
    /// "reconnect" (default) and "none": before the AES-GCM record limit the target closes the queue's connection and
    /// the NVMe host reconnects and retries (safe with Linux kTLS peers, which refuse KeyUpdate); the record layer
    /// refuses to seal past the hard limit either way. "keyupdate": send KeyUpdate (only for peers that accept it).
    /// </summary>
    public static TlsKeyLimitPolicy ToPolicy(KeyUpdateMode mode) => mode == KeyUpdateMode.KeyUpdate
        ? TlsKeyLimitPolicy.SendKeyUpdate
        : TlsKeyLimitPolicy.ReconnectBeforeLimit;

    private static partial class Log
    {
        [LoggerMessage(EventId = 5301, Level = LogLevel.Warning,
            Message = "TLS handshake from {Remote} on port {Port} refused ({Reason}); identity offered '{Identity}', PSK forms tried: {FormsTried}: {Detail}")]
        public static partial void HandshakeRefused(ILogger logger, string remote, int port, string reason, string identity, string formsTried, string detail);

        [LoggerMessage(EventId = 5302, Level = LogLevel.Warning, Message = "TLS key log is ON: traffic secrets are written to {Path}; anyone with that file can decrypt the captured traffic")]
        public static partial void KeyLogOn(ILogger logger, string path);
    }
}
