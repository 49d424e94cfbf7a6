using Org.BouncyCastle.Tls;

namespace NvmeMptls.Crypto.Handshake;

/// <summary>Maps our group and suite names to BouncyCastle's constants (kept here so they do not leak).</summary>
internal static class BcGroups
{
    public static int[] ToBc(IReadOnlyList<TlsKeyExchangeGroup> groups)
    {
        var result = new int[groups.Count];
        for (int i = 0; i < result.Length; i++)
        {
            result[i] = groups[i] switch
            {
                TlsKeyExchangeGroup.X25519 => NamedGroup.x25519,
                TlsKeyExchangeGroup.Secp256r1 => NamedGroup.secp256r1,
                TlsKeyExchangeGroup.Secp384r1 => NamedGroup.secp384r1,
                _ => throw new ArgumentOutOfRangeException(nameof(groups), groups[i], "unsupported group"),
            };
        }
        return result;
    }

    public static string Name(int namedGroup) => NamedGroup.GetName(namedGroup) ?? namedGroup.ToString(System.Globalization.CultureInfo.InvariantCulture);

    public static int PrfFor(Psk.NvmePskHash hash) =>
        hash == Psk.NvmePskHash.Sha384 ? PrfAlgorithm.tls13_hkdf_sha384 : PrfAlgorithm.tls13_hkdf_sha256;

    public static int SuiteFor(Psk.NvmePskHash hash) =>
        hash == Psk.NvmePskHash.Sha384 ? Org.BouncyCastle.Tls.CipherSuite.TLS_AES_256_GCM_SHA384 : Org.BouncyCastle.Tls.CipherSuite.TLS_AES_128_GCM_SHA256;
}
