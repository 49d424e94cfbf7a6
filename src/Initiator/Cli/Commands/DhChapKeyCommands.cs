using System.Globalization;
using NvmeMptls.Crypto.Auth;
using NvmeMptls.Initiator;
using NvmeMptls.Transport.Nvme.Auth;

namespace NvmeMptls.Cli.Commands;

/// <summary>
/// nvme-cli-compatible <c>gen-dhchap-key</c> and <c>check-dhchap-key</c> (reference §5): the same strings, lengths,
/// messages and exit codes as nvme-cli 2.x, which writes the key already transformed with the NQN for --hmac 1–3.
/// </summary>
public static class DhChapKeyCommands
{
    /// <summary><c>gen-dhchap-key [--hmac=0|1|2|3] [--key-length=32|48|64] [--secret HEX] [--nqn NQN]</c></summary>
    public static int GenDhChapKey(string[] args, TextWriter stdout, TextWriter stderr)
    {
        if (!KeyToolArguments.TrySplit(args, new HashSet<string>(), stderr, out var pairs))
        {
            return 22;
        }
        int hmac = 0;
        int length = 0;
        string? secretHex = null;
        string? nqn = null;
        foreach (var (name, value) in pairs)
        {
            switch (name)
            {
                case "--hmac" or "-m" when int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out int h):
                    hmac = h;
                    break;
                case "--key-length" or "-l" when int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out int l):
                    length = l;
                    break;
                case "--secret" or "-s":
                    secretHex = value;
                    break;
                case "--nqn" or "-n":
                    nqn = value;
                    break;
                default:
                    stderr.WriteLine($"unknown or invalid option {name}={value}");
                    return 22;
            }
        }
        if (hmac is < 0 or > 3)
        {
            stderr.WriteLine($"Invalid HMAC identifier {hmac}");
            return 22;
        }
        // nvme-cli: a transformed key is as long as the hash; an untransformed one 32 bytes unless asked otherwise.
        int natural = hmac == 0 ? 32 : DhChapHashes.Length((DhChapHashId)hmac);
        if (length == 0)
        {
            length = natural;
        }
        if (hmac != 0 && length != natural)
        {
            stderr.WriteLine($"Invalid key length {length} for {HashName(hmac)}");
            return 22;
        }
        if (!DhChapSecret.IsValidLength(length))
        {
            stderr.WriteLine($"Invalid key length {length}");
            return 22;
        }
        byte[] seed = [];
        if (secretHex is not null)
        {
            try
            {
                seed = Convert.FromHexString(secretHex);
            }
            catch (FormatException)
            {
                stderr.WriteLine("Invalid secret: not hex");
                return 22;
            }
            if (seed.Length != length)
            {
                stderr.WriteLine($"Invalid secret length {seed.Length} (key length {length})");
                return 22;
            }
        }
        using var key = DhChapSecret.Generate((byte)hmac, length, nqn ?? HostIdentity.DefaultHostNqn, seed);
        System.Security.Cryptography.CryptographicOperations.ZeroMemory(seed);
        stdout.WriteLine(key.ToInterchange());
        return 0;
    }

    /// <summary><c>check-dhchap-key --key KEY</c>: "Key is valid (HMAC h, length n, CRC c)" or nvme-cli's error and exit code 1.</summary>
    public static int CheckDhChapKey(string[] args, TextWriter stdout, TextWriter stderr)
    {
        if (!KeyToolArguments.TrySplit(args, new HashSet<string>(), stderr, out var pairs))
        {
            return 22;
        }
        string? text = null;
        foreach (var (name, value) in pairs)
        {
            if (name is not ("--key" or "-k"))
            {
                stderr.WriteLine($"unknown or invalid option {name}");
                return 22;
            }
            text = value;
        }
        if (text is null)
        {
            stderr.WriteLine("check-dhchap-key: --key is required");
            return 22;
        }
        if (!DhChapSecret.TryParse(text, out var key, out string? error))
        {
            stderr.WriteLine(error);
            return 1;
        }
        using (key)
        {
            // nvme-cli insists that a key meant for transformation is as long as its hash.
            if (key.TransformHash != 0 && key.Length != DhChapHashes.Length((DhChapHashId)key.TransformHash))
            {
                stderr.WriteLine($"Invalid key length for {HashName(key.TransformHash)}");
                return 1;
            }
            stdout.WriteLine(string.Create(CultureInfo.InvariantCulture, $"Key is valid (HMAC {key.TransformHash}, length {key.Length}, CRC {key.Crc:x8})"));
            return 0;
        }
    }

    private static string HashName(int hmac) => hmac switch
    {
        1 => "SHA(256)",
        2 => "SHA(384)",
        _ => "SHA(512)",
    };
}
