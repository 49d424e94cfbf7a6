using System.Globalization;
using NvmeMptls.Crypto.Psk;

namespace NvmeMptls.Cli.Commands;

/// <summary>The output of nvme-cli-style gen-tls-key / check-tls-key over Crypto's key codecs (TlsKeyCommands parses the arguments).</summary>
public static class TlsKeyTool
{
    /// <summary>Creates (or wraps <paramref name="secretHex"/>) a configured key and writes nvme-cli's output lines.</summary>
    public static int Generate(int hmac, string? secretHex, string? hostNqn, string? subsysNqn, int identityVersion, bool compat,
        TextWriter stdout, TextWriter stderr)
    {
        if (hmac is not (1 or 2))
        {
            stderr.WriteLine($"Invalid HMAC identifier {hmac} (accepted: 1 = SHA-256, 2 = SHA-384)");
            return 22;
        }
        ConfiguredPsk key;
        if (secretHex is null)
        {
            key = ConfiguredPsk.Generate((NvmePskHash)hmac);
        }
        else
        {
            byte[] secret;
            try
            {
                secret = Convert.FromHexString(secretHex);
            }
            catch (FormatException)
            {
                stderr.WriteLine("Invalid secret: not hex");
                return 22;
            }
            if (secret.Length != (hmac == 1 ? 32 : 48))
            {
                stderr.WriteLine($"Invalid key length ({secret.Length} bytes) for HMAC {hmac}");
                return 22;
            }
            key = new ConfiguredPsk((NvmePskHash)hmac, secret);
        }
        using (key)
        {
            stdout.WriteLine(key.ToInterchange());
            return PrintDerived(key, hostNqn, subsysNqn, identityVersion, compat, stdout, stderr);
        }
    }

    /// <summary>Validates an interchange string and prints "Key is valid (...)" or the CRC mismatch as nvme-cli does.</summary>
    public static int Check(string text, string? hostNqn, string? subsysNqn, int identityVersion, bool compat, TextWriter stdout, TextWriter stderr)
    {
        if (!ConfiguredPsk.TryParse(text, out var key, out var error))
        {
            stderr.WriteLine(error.Message);
            return 1;
        }
        using (key)
        {
            stdout.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"Key is valid (HMAC {(int)key.Hmac}, length {key.Key.Length}, CRC {key.Crc:x8})"));
            return PrintDerived(key, hostNqn, subsysNqn, identityVersion, compat, stdout, stderr);
        }
    }

    private static int PrintDerived(ConfiguredPsk key, string? hostNqn, string? subsysNqn, int identityVersion, bool compat,
        TextWriter stdout, TextWriter stderr)
    {
        if (hostNqn is null && subsysNqn is null)
        {
            return 0;
        }
        if (string.IsNullOrEmpty(hostNqn) || string.IsNullOrEmpty(subsysNqn))
        {
            stderr.WriteLine("both --hostnqn and --subsysnqn are needed to derive an identity");
            return 22;
        }
        if (identityVersion is not (0 or 1))
        {
            stderr.WriteLine($"Invalid identity version {identityVersion} (accepted: 0, 1)");
            return 22;
        }
        using var derived = ClientPsk.Create(key, hostNqn, subsysNqn, identityVersion, compat);
        stdout.WriteLine($"identity: {derived.Identity}");
        stdout.WriteLine($"tls-psk: {Convert.ToHexStringLower(derived.TlsPsk)}");
        return 0;
    }
}
