using System.Security.Cryptography;
using Org.BouncyCastle.Tls;
using Org.BouncyCastle.Tls.Crypto;

namespace NvmeMptls.Crypto.Handshake;

/// <summary>
/// Secrets copied out of BouncyCastle's context (reference §6.1): <c>AdoptSecret(...).Extract()</c> copies without
/// destroying BC's own secret. Handshake traffic secrets are sampled while the handshake runs (only for the key log).
/// </summary>
internal sealed class TrafficSecrets : IDisposable
{
    public byte[]? ClientRandom { get; private set; }
    public byte[]? ClientHandshake { get; private set; }
    public byte[]? ServerHandshake { get; private set; }
    public byte[]? ClientApplication { get; private set; }
    public byte[]? ServerApplication { get; private set; }
    public ushort CipherSuite { get; private set; }
    public int NamedGroup { get; private set; }

    /// <summary>Called after each offered record: the first traffic secrets seen before completion are the handshake ones.</summary>
    public void SampleHandshake(TlsContext context)
    {
        SecurityParameters? sp = context.SecurityParameters;
        if (sp is null || ClientHandshake is not null || sp.TrafficSecretClient is null || sp.TrafficSecretServer is null)
        {
            return;
        }
        ClientRandom ??= sp.ClientRandom?.ToArray();
        ClientHandshake = Copy(context, sp.TrafficSecretClient);
        ServerHandshake = Copy(context, sp.TrafficSecretServer);
    }

    /// <summary>Called from NotifyHandshakeComplete, where the traffic secrets are the application ones.</summary>
    public void CaptureApplication(TlsContext context)
    {
        SecurityParameters sp = context.SecurityParameters;
        ClientRandom ??= sp.ClientRandom?.ToArray();
        CipherSuite = (ushort)sp.CipherSuite;
        NamedGroup = sp.NegotiatedGroup;
        ClientApplication = Copy(context, sp.TrafficSecretClient);
        ServerApplication = Copy(context, sp.TrafficSecretServer);
        // On the server BC moves straight to the application secrets, so a "handshake" sample equal to them is not one.
        if (ClientHandshake is not null && CryptographicOperations.FixedTimeEquals(ClientHandshake, ClientApplication))
        {
            Zero(ClientHandshake);
            Zero(ServerHandshake);
            ClientHandshake = null;
            ServerHandshake = null;
        }
    }

    private static byte[] Copy(TlsContext context, TlsSecret secret) => context.Crypto.AdoptSecret(secret).Extract();

    private static void Zero(byte[]? bytes)
    {
        if (bytes is not null)
        {
            CryptographicOperations.ZeroMemory(bytes);
        }
    }

    public void Dispose()
    {
        Zero(ClientHandshake);
        Zero(ServerHandshake);
        Zero(ClientApplication);
        Zero(ServerApplication);
    }
}
