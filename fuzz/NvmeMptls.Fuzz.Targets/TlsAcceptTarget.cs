using NvmeMptls.Crypto.Handshake;
using NvmeMptls.Crypto.Psk;
using NvmeMptls.Transport.Connections;

namespace NvmeMptls.Fuzz;

/// <summary>
/// The TLS server accept (BouncyCastle behind our pump and ClientHello check) with the input as the client's whole
/// first flight over a memory connection. It must fail with <see cref="TlsHandshakeException"/> or an
/// <see cref="IOException"/> (the stream ended), never anything else, and never wait past the input's end.
/// </summary>
public static class TlsAcceptTarget
{
    /// <summary>The test key of tests/NvmeMptls.Tests (TlsConformanceTests); the seed ClientHello offers it.</summary>
    public const string Key = "NVMeTLSkey-1:01:VRLbtnN9AQb2WXW3c9+wEf/DRLz0QuLdbYvEhwtdWwNf9LrZ:";
    public const string HostNqn = "nqn.2014-08.org.nvmexpress:uuid:0f0e0d0c-0b0a-0908-0706-050403020100";
    public const string SubsystemNqn = "nqn.2026-01.io.nvmemptls:fuzz";

    private static readonly NvmeTlsOptions s_options = NvmeTlsOptions.Default with { HandshakeTimeout = TimeSpan.FromSeconds(2) };

    public static void Run(byte[] input) => FuzzTargets.Await(AcceptAsync(input), "TLS accept");

    private static async Task AcceptAsync(byte[] input)
    {
        var (client, server) = MemoryConnection.CreatePair();
        await using var clientScope = client.ConfigureAwait(false);
        var keyring = new NvmePskKeyring();
        keyring.Add(Key);
        var accept = NvmeTls.AcceptAsync(server, keyring, s_options);
        var drain = PipeDrain.ToEndAsync(client.Input);
        await client.Output.WriteAsync(input).ConfigureAwait(false);
        await client.Output.CompleteAsync().ConfigureAwait(false);
        try
        {
            var secure = await accept.ConfigureAwait(false);
            await secure.DisposeAsync().ConfigureAwait(false);
        }
        catch (IOException)
        {
            // TlsHandshakeException (an alert, a refused ClientHello, the timeout) or the stream ending mid-handshake
        }
        finally
        {
            await server.DisposeAsync().ConfigureAwait(false);
            keyring.Dispose();
        }

        await drain.ConfigureAwait(false);
    }
}
