using System.IO.Pipelines;
using System.Security.Cryptography;

namespace NvmeMptls.TestKit;

/// <summary>Checksums of whole streams, for transfer tests that compare what arrived with what was sent.</summary>
public static class PipeHashing
{
    /// <summary>Reads <paramref name="input"/> to its end; returns how many bytes came and their SHA-256.</summary>
    public static async Task<(long Length, byte[] Hash)> HashToEndAsync(PipeReader input)
    {
        await Task.Yield();
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        long length = 0;
        while (true)
        {
            var result = await input.ReadAsync();
            foreach (var segment in result.Buffer)
            {
                hash.AppendData(segment.Span);
                length += segment.Length;
            }
            input.AdvanceTo(result.Buffer.End);
            if (result.IsCompleted)
                return (length, hash.GetHashAndReset());
        }
    }
}
