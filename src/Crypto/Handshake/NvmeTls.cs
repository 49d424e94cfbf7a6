using System.Text;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using NvmeMptls.Crypto.Aead;
using NvmeMptls.Crypto.Psk;
using NvmeMptls.Transport.Connections;
using NvmeMptls.Transport.Tls;
using Org.BouncyCastle.Security;
using Org.BouncyCastle.Tls;
using Org.BouncyCastle.Tls.Crypto.Impl.BC;

namespace NvmeMptls.Crypto.Handshake;

/// <summary>
/// NVMe/TCP TLS 1.3 (external PSK, psk_dhe_ke) over any <see cref="StreamConnection"/>: BouncyCastle runs the
/// handshake, then our <see cref="TlsRecordConnection"/> carries the application data with the exported keys.
/// </summary>
public static class NvmeTls
{
    /// <summary>Host side: offers <paramref name="psk"/>'s identity; returns the protected connection.</summary>
    public static async Task<StreamConnection> ConnectAsync(StreamConnection inner, DerivedTlsPsk psk, NvmeTlsOptions? options = null,
        CancellationToken ct = default)
    {
        options ??= NvmeTlsOptions.Default;
        options.Validate();
        ILogger logger = Logger(options);
        var client = new BcPskTlsClient(new BcTlsCrypto(new SecureRandom()), psk, BcGroups.ToBc(options.Groups));
        var protocol = new TlsClientProtocol();
        try
        {
            await RunAsync(protocol, inner, () => protocol.Connect(client), () => client.Secrets.SampleHandshake(client.Context),
                options, server: null, ct).ConfigureAwait(false);
            var secrets = client.Secrets;
            var session = Session(psk.Identity.ToString(), psk.Identity, secrets, psk.Compat);
            NvmeTlsLog.HandshakeDone(logger, "client", session.CipherSuiteName, session.KeyExchangeGroup ?? "?", session.PskIdentity);
            return await TakeoverAsync(inner, isClient: true, secrets, session, options, logger).ConfigureAwait(false);
        }
        catch (TlsHandshakeException ex)
        {
            NvmeTlsLog.HandshakeFailed(logger, "client", ex.Reason, ex.Message);
            throw;
        }
        finally
        {
            client.Secrets.Dispose();
        }
    }

    /// <summary>Target side: selects the PSK by the offered identity through <paramref name="keyring"/>.</summary>
    public static async Task<StreamConnection> AcceptAsync(StreamConnection inner, NvmePskKeyring keyring, NvmeTlsOptions? options = null,
        CancellationToken ct = default)
    {
        options ??= NvmeTlsOptions.Default;
        options.Validate();
        ILogger logger = Logger(options);
        var server = new BcPskTlsServer(new BcTlsCrypto(new SecureRandom()), keyring, BcGroups.ToBc(options.Groups));
        var protocol = new TlsServerProtocol();
        try
        {
            await RunAsync(protocol, inner, () => protocol.Accept(server), () => server.Secrets.SampleHandshake(server.Context),
                options, server, ct).ConfigureAwait(false);
            DerivedTlsPsk selected = server.Selected!;
            var session = Session(selected.Identity.ToString(), selected.Identity, server.Secrets, selected.Compat);
            NvmeTlsLog.PskFormSelected(logger, selected.Form, session.PskIdentity, server.FormsTried);
            NvmeTlsLog.HandshakeDone(logger, "server", session.CipherSuiteName, session.KeyExchangeGroup ?? "?", session.PskIdentity);
            return await TakeoverAsync(inner, isClient: false, server.Secrets, session, options, logger).ConfigureAwait(false);
        }
        catch (TlsHandshakeException ex)
        {
            NvmeTlsLog.HandshakeFailed(logger, "server", ex.Reason, ex.Message);
            throw;
        }
        finally
        {
            server.Secrets.Dispose();
            server.Selected?.Dispose();
        }
    }

    private static async Task RunAsync(TlsProtocol protocol, StreamConnection inner, Action start, Action afterRecord,
        NvmeTlsOptions options, BcPskTlsServer? server, CancellationToken ct)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(options.HandshakeTimeout);
        try
        {
            start();
            await BcHandshakePump.RunAsync(protocol, inner, afterRecord, server is null ? null : server.SelectFromClientHello, timeout.Token)
                .ConfigureAwait(false);
        }
        catch (TlsFatalAlertReceived ex)
        {
            var alert = (TlsAlertDescription)ex.AlertDescription;
            var reason = alert switch
            {
                TlsAlertDescription.UnknownPskIdentity => TlsHandshakeFailure.UnknownIdentity,
                TlsAlertDescription.DecryptError => TlsHandshakeFailure.PskMismatch,
                _ => TlsHandshakeFailure.PeerAlert,
            };
            throw Fail(inner, reason, $"peer sent {AlertDescription.GetText(ex.AlertDescription)}", alert, ex, server);
        }
        catch (TlsFatalAlert ex)
        {
            var alert = (TlsAlertDescription)ex.AlertDescription;
            var reason = server?.Refusal
                ?? (alert == TlsAlertDescription.DecryptError ? TlsHandshakeFailure.PskMismatch : TlsHandshakeFailure.ProtocolError);
            string detail = server?.Refusal is not null && server.RefusalDetail.Length > 0 ? server.RefusalDetail : ex.Message;
            throw Fail(inner, reason, $"sent {AlertDescription.GetText(ex.AlertDescription)}: {detail}", alert, ex, server);
        }
        catch (OperationCanceledException ex)
        {
            var reason = ct.IsCancellationRequested ? TlsHandshakeFailure.Cancelled : TlsHandshakeFailure.Timeout;
            throw Fail(inner, reason, $"no handshake within {options.HandshakeTimeout.TotalSeconds:0.#} s", null, ex, server);
        }
        catch (IOException ex) when (ex is not TlsHandshakeException)
        {
            throw Fail(inner, TlsHandshakeFailure.ConnectionClosed, ex.Message, null, ex, server);
        }
        catch (TlsHandshakeException ex)
        {
            throw Fail(inner, ex.Reason, ex.Message, ex.Alert, ex.InnerException, server);
        }
    }

    private static TlsHandshakeException Fail(StreamConnection inner, TlsHandshakeFailure reason, string message,
        TlsAlertDescription? alert, Exception? cause, BcPskTlsServer? server)
    {
        inner.Output.Complete();
        return new TlsHandshakeException(reason, message, alert, cause)
        {
            OfferedIdentity = server?.OfferedIdentity ?? "",
            FormsTried = server?.FormsTried ?? "",
        };
    }

    private static TlsSessionInfo Session(string identity, NvmePskIdentity parsed, TrafficSecrets secrets, bool compat) =>
        new(identity, parsed.HostNqn, parsed.SubsystemNqn, secrets.CipherSuite, TlsCryptoInfo.SuiteName(secrets.CipherSuite),
            SealProvider: "", OpenProvider: "", BcGroups.Name(secrets.NamedGroup), compat);

    private static async Task<StreamConnection> TakeoverAsync(StreamConnection inner, bool isClient, TrafficSecrets secrets, TlsSessionInfo session,
        NvmeTlsOptions options, ILogger logger)
    {
        if (options.KeyLogPath is { } path)
        {
            NvmeTlsLog.KeyLogEnabled(logger, path);
            NssKeyLog.Append(path, secrets);
        }
        byte[] ours = isClient ? secrets.ClientApplication! : secrets.ServerApplication!;
        byte[] theirs = isClient ? secrets.ServerApplication! : secrets.ClientApplication!;
        var tx = TlsCryptoInfo.FromTrafficSecret(secrets.CipherSuite, ours);
        var rx = TlsCryptoInfo.FromTrafficSecret(secrets.CipherSuite, theirs);
        if (options.RecordProvider == TlsRecordProvider.KernelTls)
        {
            // The socket must stop feeding user space first: a receive completing between the drain check and
            // TLS_RX would hand ciphertext to the NVMe layer as if it were plaintext.
            bool paused = await inner.PauseReceivingAsync().ConfigureAwait(false);
            try
            {
                if (!paused)
                {
                    NvmeTlsLog.KernelTlsFallback(logger, $"the {inner.TransportName} carrier cannot pause its receive loop for the handover");
                }
                else if (!KernelTls.CarrierIsDrained(inner))
                {
                    NvmeTlsLog.KernelTlsFallback(logger, "the peer's first records are already buffered in user space");
                }
                else if (KernelTls.TryEnable(inner.UnderlyingSocket, tx, rx, out string reason))
                {
                    tx.Dispose();
                    rx.Dispose();
                    return new KernelTlsConnection(inner, session);
                }
                else
                {
                    NvmeTlsLog.KernelTlsFallback(logger, reason);
                }
            }
            finally
            {
                if (paused)
                {
                    inner.ResumeReceiving();
                }
            }
        }
        IRecordProtectorFactory factory = RecordFactory(options.RecordProvider, OpenSslGcmProtectorFactory.IsAvailable, logger);
        return new TlsRecordConnection(inner, tx, rx, session, factory, factory, options.RecordLayer,
            options.LoggerFactory?.CreateLogger<TlsRecordConnection>(), isServer: !isClient);
    }

    /// <summary>
    /// The user-space record layer's AEAD for <paramref name="provider"/>: OpenSSL's EVP for <see cref="TlsRecordProvider.OpenSsl"/>
    /// and for kTLS that fell back, when <paramref name="openSslAvailable"/>; else .NET's AesGcm, said once per process
    /// (event 2006) to the first logger that shows warnings.
    /// </summary>
    internal static IRecordProtectorFactory RecordFactory(TlsRecordProvider provider, bool openSslAvailable, ILogger logger)
    {
        switch (provider)
        {
            case TlsRecordProvider.BouncyCastle:
                return BouncyCastleGcmProtectorFactory.Instance;
            case TlsRecordProvider.DotNetAesGcm:
                return AesGcmRecordProtectorFactory.Instance;
            case TlsRecordProvider.OpenSsl or TlsRecordProvider.KernelTls when openSslAvailable:
                return OpenSslGcmProtectorFactory.Instance;
        }
        if (logger.IsEnabled(LogLevel.Warning) && Interlocked.Exchange(ref s_openSslFallbackLogged, 1) == 0)
        {
            NvmeTlsLog.OpenSslFallback(logger, OpenSslGcmProtectorFactory.UnavailableReason ?? "not chosen");
        }
        return AesGcmRecordProtectorFactory.Instance;
    }

    private static int s_openSslFallbackLogged;

    private static ILogger Logger(NvmeTlsOptions options) =>
        options.LoggerFactory?.CreateLogger(typeof(NvmeTls).FullName!) ?? NullLogger.Instance;
}
