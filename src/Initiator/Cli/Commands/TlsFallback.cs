using NvmeMptls.Crypto.Handshake;
using NvmeMptls.Initiator;
using NvmeMptls.Transport.Nvme;

namespace NvmeMptls.Cli.Commands;

/// <summary>
/// What a verb does when the target refuses the TLS handshake. Version 1 identities (with the digest) are our
/// default; SPDK v24.09 knows only version 0 and answers a version 1 identity with an internal_error alert. When the
/// user left <c>--tls-identity-version</c> alone we retry once with version 0 and say so on stderr; otherwise the
/// error names the version offered and the option. A refused discovery connection also says that the PSK must be
/// configured for the target's discovery subsystem, which is where SPDK looks it up.
/// </summary>
public static class TlsFallback
{
    /// <summary>Runs <paramref name="connect"/> with <paramref name="options"/>, retrying once with a version 0 identity as above.</summary>
    public static async Task<T> RunAsync<T>(VerbContext context, CommandLine line, NvmeControllerOptions options, Func<NvmeControllerOptions, Task<T>> connect)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(line);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(connect);
        var explicitVersion = line.Has("tls-identity-version");
        try
        {
            return await connect(options).ConfigureAwait(false);
        }
        catch (Exception ex) when (options.Tls && Refusal(ex) is { } refused)
        {
            if (explicitVersion || options.TlsIdentityVersion == 0)
            {
                throw new IOException(Explain(refused, options, explicitVersion), ex);
            }

            await context.Error.WriteLineAsync(
                $"nvme-mptls {context.Verb}: the target refused a version {options.TlsIdentityVersion} PSK identity ({Short(refused)}); " +
                "retrying once with a version 0 identity (--tls-identity-version 0)").ConfigureAwait(false);
            var v0 = options with { TlsIdentityVersion = 0 };
            try
            {
                return await connect(v0).ConfigureAwait(false);
            }
            catch (Exception retry) when (Refusal(retry) is { } again)
            {
                throw new IOException($"{Explain(again, v0, explicitVersion: false)}; the version {options.TlsIdentityVersion} identity was refused too", retry);
            }
        }
    }

    /// <summary>The handshake failure in <paramref name="ex"/> or its inner exceptions when the peer refused us (not a timeout or our own error).</summary>
    public static TlsHandshakeException? Refusal(Exception ex)
    {
        for (Exception? e = ex; e is not null; e = e.InnerException)
        {
            if (e is TlsHandshakeException tls)
            {
                return tls.Reason is TlsHandshakeFailure.PeerAlert or TlsHandshakeFailure.UnknownIdentity or TlsHandshakeFailure.ConnectionClosed ? tls : null;
            }
        }

        return null;
    }

    /// <summary>The message for a refused handshake: what was offered, and what to try.</summary>
    public static string Explain(TlsHandshakeException refused, NvmeControllerOptions options, bool explicitVersion)
    {
        ArgumentNullException.ThrowIfNull(refused);
        ArgumentNullException.ThrowIfNull(options);
        var text = $"{options.TargetAddress}:{options.TargetPort}: the target refused the TLS handshake for a version {options.TlsIdentityVersion} PSK identity " +
            $"(host {options.HostNqn}, subsystem {options.SubsystemNqn}): {Short(refused)}";
        if (options.TlsIdentityVersion == 1 && explicitVersion)
        {
            text += "; targets that know only version 0 identities (SPDK up to v24.09) need --tls-identity-version 0";
        }

        if (options.SubsystemNqn == WellKnownNqns.Discovery)
        {
            text += $"; for discovery over TLS the target must have this host's PSK configured for its discovery subsystem ({WellKnownNqns.Discovery}) too, not only for the I/O subsystems";
        }

        return text;
    }

    private static string Short(TlsHandshakeException ex) => ex.Alert is { } alert ? $"{ex.Reason}, alert {alert}" : ex.Reason.ToString();
}
