using System.Text.Json;

namespace NvmeMptls.Cli.Output;

/// <summary>Indented JSON to a stream, the way nvme-cli's <c>-o json</c> prints.</summary>
public static class JsonOutput
{
    public static async Task WriteAsync(Stream stream, Action<Utf8JsonWriter> write)
    {
        await using var writer = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true });
        write(writer);
        await writer.FlushAsync().ConfigureAwait(false);
        stream.WriteByte((byte)'\n');
        await stream.FlushAsync().ConfigureAwait(false);
    }

    /// <summary>128-bit counters (SMART) as plain JSON numbers.</summary>
    public static void WriteUInt128(this Utf8JsonWriter writer, string name, UInt128 value)
    {
        writer.WritePropertyName(name);
        writer.WriteRawValue(value.ToString(System.Globalization.CultureInfo.InvariantCulture));
    }
}
