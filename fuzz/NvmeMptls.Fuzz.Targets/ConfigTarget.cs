using Microsoft.Extensions.Configuration;
using NvmeMptls.Target.Configuration;

namespace NvmeMptls.Fuzz;

/// <summary>
/// The target service's configuration loader: JSON text (as in a --config file) through the reader, the derived
/// identifiers and the validator. Text that is not JSON must fail in the JSON parser; any JSON must load or come back as a list of problems — the reader and validator never throw.
/// </summary>
public static class ConfigTarget
{
    public static void Run(byte[] input)
    {
        IConfiguration configuration;
        try
        {
            configuration = new ConfigurationBuilder().AddJsonStream(new MemoryStream(input)).Build();
        }
        catch (Exception ex) when (ex is FormatException or System.Text.Json.JsonException)
        {
            // The file provider the service uses wraps the parser's JsonException in a FormatException; the stream
            // provider used here passes it through. Either way the text is not JSON.
            return;
        }

        if (TargetConfiguration.TryLoad(configuration, out var options, out var errors))
        {
            _ = options.ToString();
        }
        else
        {
            _ = errors.Length;
        }
    }
}
