using System.Text;
using NvmeMptls.Crypto.Psk;

namespace NvmeMptls.Fuzz;

/// <summary>
/// The PSK text formats: input byte 0 picks the interchange key parser (<see cref="ConfiguredPsk.TryParse"/>, a
/// key file or config value), the identity parser (<see cref="NvmePskIdentity.TryParse"/>) or the server's keyring
/// lookup of an offered identity (what a ClientHello carries). Bad text must give false, never an exception.
/// </summary>
public static class PskTarget
{
    private static readonly Lazy<NvmePskKeyring> s_keyring = new(() =>
    {
        var keyring = new NvmePskKeyring();
        keyring.Add(TlsAcceptTarget.Key);
        return keyring;
    });

    public static void Run(byte[] input)
    {
        if (input.Length == 0)
        {
            return;
        }

        var text = Encoding.UTF8.GetString(input, 1, input.Length - 1);
        switch (input[0] % 3)
        {
            case 0:
                if (ConfiguredPsk.TryParse(text, out var psk, out _))
                {
                    psk.Dispose();
                }

                break;
            case 1:
                if (NvmePskIdentity.TryParse(text, out var identity, out _))
                {
                    _ = identity.ToString();
                }

                break;
            default:
                s_keyring.Value.Lookup(text).Psk?.Dispose();
                break;
        }
    }
}
