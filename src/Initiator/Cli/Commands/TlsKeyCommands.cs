using System.Globalization;
using NvmeMptls.Crypto.Psk;

namespace NvmeMptls.Cli.Commands;

/// <summary>nvme-cli-compatible <c>gen-tls-key</c> and <c>check-tls-key</c>; argument parsing only, logic in <see cref="TlsKeyTool"/>.</summary>
public static class TlsKeyCommands
{
    /// <summary><c>gen-tls-key [--hmac=1|2] [--secret HEX] [--hostnqn H --subsysnqn S [--identity 0|1] [--compat]]</c></summary>
    public static int GenTlsKey(string[] args, TextWriter stdout, TextWriter stderr)
    {
        if (!TryParse(args, out var o, stderr))
        {
            return 22;
        }
        return TlsKeyTool.Generate(o.Hmac, o.Secret, o.HostNqn, o.SubsysNqn, o.Identity, o.Compat, stdout, stderr);
    }

    /// <summary><c>check-tls-key --key KEY | -d KEY [--hostnqn H --subsysnqn S [--identity 0|1] [--compat]]</c></summary>
    public static int CheckTlsKey(string[] args, TextWriter stdout, TextWriter stderr)
    {
        if (!TryParse(args, out var o, stderr))
        {
            return 22;
        }
        if (o.Key is null)
        {
            stderr.WriteLine("check-tls-key: --key (or -d) is required");
            return 22;
        }
        return TlsKeyTool.Check(o.Key, o.HostNqn, o.SubsysNqn, o.Identity, o.Compat, stdout, stderr);
    }

    private sealed record Options(int Hmac, string? Secret, string? Key, string? HostNqn, string? SubsysNqn, int Identity, bool Compat);

    private static readonly HashSet<string> Switches = new(StringComparer.Ordinal) { "--compat", "-C" };

    private static bool TryParse(string[] args, out Options options, TextWriter stderr)
    {
        options = new Options(1, null, null, null, null, 1, false);
        if (!KeyToolArguments.TrySplit(args, Switches, stderr, out var pairs))
        {
            return false;
        }
        foreach (var (name, value) in pairs)
        {
            switch (name)
            {
                case "--compat" or "-C":
                    options = options with { Compat = true };
                    break;
                case "--hmac" or "-m" when int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out int hmac):
                    options = options with { Hmac = hmac };
                    break;
                case "--identity" or "-I" when int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out int identity):
                    options = options with { Identity = identity };
                    break;
                case "--secret" or "-s":
                    options = options with { Secret = value };
                    break;
                case "--key" or "-k" or "-d":
                    options = options with { Key = value };
                    break;
                case "--hostnqn" or "-n":
                    options = options with { HostNqn = value };
                    break;
                case "--subsysnqn" or "-c":
                    options = options with { SubsysNqn = value };
                    break;
                default:
                    stderr.WriteLine($"unknown or invalid option {name}{(value is null ? "" : "=" + value)}");
                    return false;
            }
        }
        return true;
    }
}
