using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Configuration;
using NvmeMptls.Crypto.Auth;
using NvmeMptls.Target.Configuration;

namespace NvmeMptls.Fuzz;

/// <summary>
/// The DH-HMAC-CHAP secret parser (<c>DHHC-1:XX:base64(secret || CRC-32):</c>, a key file or config value): input
/// byte 0 picks <see cref="DhChapSecret.TryParse"/> on the text, with a secret that parses formatted back and
/// re-parsed (it must give the same string) and transformed with an NQN; or the text as the Secret of a
/// Target:DhChap:Hosts entry through the configuration reader and validator. Bad text gives false or a list of
/// errors that never quotes the text, never an exception.
/// </summary>
public static class ChapSecretTarget
{
    private const string Nqn = "nqn.2014-08.org.nvmexpress:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6";

    public static void Run(byte[] input)
    {
        if (input.Length == 0)
        {
            return;
        }

        var text = Encoding.UTF8.GetString(input, 1, input.Length - 1);
        if (input[0] % 2 == 0)
        {
            Parse(text);
        }
        else
        {
            Configure(text);
        }
    }

    private static void Parse(string text)
    {
        if (!DhChapSecret.TryParse(text, out var secret, out var error))
        {
            if (string.IsNullOrEmpty(error))
            {
                throw new InvalidOperationException("TryParse failed without saying why");
            }

            return;
        }

        using (secret)
        {
            var interchange = secret.ToInterchange();
            using var again = DhChapSecret.Parse(interchange);
            if (again.ToInterchange() != interchange || again.TransformHash != secret.TransformHash)
            {
                throw new InvalidOperationException("a parsed secret does not survive formatting and parsing again");
            }

            var transformed = secret.Transform(Nqn);
            CryptographicOperations.ZeroMemory(transformed);
        }
    }

    private static void Configure(string text)
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Target:DhChap:Hosts:0:Secret"] = text,
            ["Target:DhChap:Hosts:0:HostNqn"] = Nqn,
        }).Build();
        if (TargetConfiguration.TryLoad(configuration, out _, out var errors))
        {
            return;
        }

        // The message names the key; it must not echo the secret it refused.
        var body = text.Trim().Split(':') is { Length: >= 4 } parts ? parts[2] : "";
        foreach (var e in errors)
        {
            if (body.Length >= 8 && e.Contains(body, StringComparison.Ordinal))
            {
                throw new InvalidOperationException("a configuration error quotes the refused secret");
            }
        }
    }
}
