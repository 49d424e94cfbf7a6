namespace NvmeMptls.Crypto.Psk;

/// <summary>Client (host) side: what to offer in the handshake for a configured key and a host/subsystem pair.</summary>
public static class ClientPsk
{
    /// <summary>
    /// Derives identity and TLS PSK. <paramref name="identityVersion"/> 1 (default, with digest) or 0 (legacy);
    /// <paramref name="compat"/> selects the libnvme 1.10–1.15 framing that deployed Linux hosts use (reference §4.4).
    /// </summary>
    public static DerivedTlsPsk Create(ConfiguredPsk key, string hostNqn, string subsysNqn, int identityVersion = 1, bool compat = false)
    {
        ArgumentException.ThrowIfNullOrEmpty(hostNqn);
        ArgumentException.ThrowIfNullOrEmpty(subsysNqn);
        return NvmePskDerivation.Derive(key, hostNqn, subsysNqn, identityVersion, compat);
    }
}
