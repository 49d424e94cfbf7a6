using System.Globalization;
using NvmeMptls.IntegrationTests.TestKit;
using NvmeMptls.Transport.Tls;

namespace NvmeMptls.IntegrationTests.Tls;

/// <summary>
/// Our kTLS constants and crypto_info byte images against the kernel's own UAPI headers: a C program compiled with
/// gcc against &lt;linux/tls.h&gt;, &lt;sys/socket.h&gt; and &lt;netinet/tcp.h&gt; prints sizeof/offsetof and the
/// constants, and they must equal ours. This machine's kernel has no tls module, so this is the closest a test
/// here gets to the kernel accepting our setsockopt images.
/// </summary>
public sealed class KernelTlsHeaderTests
{
    private const string Program = """
        #include <stddef.h>
        #include <stdio.h>
        #include <sys/socket.h>
        #include <netinet/tcp.h>
        #include <linux/tls.h>
        #define P(name, value) printf("%s %ld\n", name, (long)(value))
        int main(void) {
          P("SOL_TLS", SOL_TLS); P("TCP_ULP", TCP_ULP); P("TLS_TX", TLS_TX); P("TLS_RX", TLS_RX);
          P("TLS_1_3_VERSION", TLS_1_3_VERSION);
          P("TLS_CIPHER_AES_GCM_128", TLS_CIPHER_AES_GCM_128); P("TLS_CIPHER_AES_GCM_256", TLS_CIPHER_AES_GCM_256);
          P("size128", sizeof(struct tls12_crypto_info_aes_gcm_128));
          P("size256", sizeof(struct tls12_crypto_info_aes_gcm_256));
          P("version", offsetof(struct tls_crypto_info, version));
          P("cipher_type", offsetof(struct tls_crypto_info, cipher_type));
          P("iv128", offsetof(struct tls12_crypto_info_aes_gcm_128, iv));
          P("key128", offsetof(struct tls12_crypto_info_aes_gcm_128, key));
          P("salt128", offsetof(struct tls12_crypto_info_aes_gcm_128, salt));
          P("rec_seq128", offsetof(struct tls12_crypto_info_aes_gcm_128, rec_seq));
          P("iv256", offsetof(struct tls12_crypto_info_aes_gcm_256, iv));
          P("key256", offsetof(struct tls12_crypto_info_aes_gcm_256, key));
          P("salt256", offsetof(struct tls12_crypto_info_aes_gcm_256, salt));
          P("rec_seq256", offsetof(struct tls12_crypto_info_aes_gcm_256, rec_seq));
          P("iv_size", TLS_CIPHER_AES_GCM_128_IV_SIZE); P("salt_size", TLS_CIPHER_AES_GCM_128_SALT_SIZE);
          P("rec_seq_size", TLS_CIPHER_AES_GCM_128_REC_SEQ_SIZE);
          return 0;
        }
        """;

    [Test]
    public async Task ConstantsAndCryptoInfoLayout_EqualTheKernelUapiHeaders()
    {
        var headers = await CompileAndRunAsync();
        using var info128 = TlsCryptoInfo.FromTrafficSecret(0x1301, System.Security.Cryptography.RandomNumberGenerator.GetBytes(32));
        using var info256 = TlsCryptoInfo.FromTrafficSecret(0x1302, System.Security.Cryptography.RandomNumberGenerator.GetBytes(48));
        Assert.Multiple(() =>
        {
            Same(headers, "SOL_TLS", KernelTls.SolTls);
            Same(headers, "TCP_ULP", KernelTls.TcpUlp);
            Same(headers, "TLS_TX", KernelTls.TlsTx);
            Same(headers, "TLS_RX", KernelTls.TlsRx);
            Same(headers, "TLS_1_3_VERSION", TlsCryptoInfo.Version);
            Same(headers, "TLS_CIPHER_AES_GCM_128", KernelTlsCryptoInfo.CipherAesGcm128);
            Same(headers, "TLS_CIPHER_AES_GCM_256", KernelTlsCryptoInfo.CipherAesGcm256);
            Same(headers, "iv_size", KernelTlsCryptoInfo.IvLength);
            Same(headers, "salt_size", KernelTlsCryptoInfo.SaltLength);
            Same(headers, "rec_seq_size", KernelTlsCryptoInfo.RecSeqLength);
        });
        AssertImage(headers, info128, "128");
        AssertImage(headers, info256, "256");
    }

    /// <summary>Where each field of our image actually lands, against the header's offsetof.</summary>
    private static void AssertImage(Dictionary<string, long> headers, TlsCryptoInfo info, string bits)
    {
        for (var i = 0; i < 3; i++)
        {
            info.Advance();
        }

        var image = new byte[KernelTlsCryptoInfo.Size256];
        int size = KernelTlsCryptoInfo.Write(info, image);
        var span = image.AsSpan(0, size);
        long version = FindUInt16(span, TlsCryptoInfo.Version);
        long cipher = FindUInt16(span, bits == "128" ? KernelTlsCryptoInfo.CipherAesGcm128 : KernelTlsCryptoInfo.CipherAesGcm256);
        long key = span.IndexOf(info.Key);
        long iv = span.IndexOf(info.Iv[4..]);
        long salt = span.IndexOf(info.Iv[..4]);
        ulong sequence = System.Buffers.Binary.BinaryPrimitives.ReadUInt64BigEndian(span[(int)headers["rec_seq" + bits]..]);
        Assert.Multiple(() =>
        {
            Same(headers, "size" + bits, size);
            Same(headers, "version", version);
            Same(headers, "cipher_type", cipher);
            Same(headers, "key" + bits, key);
            Same(headers, "iv" + bits, iv);
            Same(headers, "salt" + bits, salt);
            Assert.That(sequence, Is.EqualTo(3UL), "rec_seq" + bits + " holds the big-endian sequence");
        });
    }

    /// <summary>Offset of the first host-endian (little-endian) u16 <paramref name="value"/> at an even offset.</summary>
    private static int FindUInt16(ReadOnlySpan<byte> image, ushort value)
    {
        for (var offset = 0; offset + 2 <= image.Length; offset += 2)
        {
            if (System.Buffers.Binary.BinaryPrimitives.ReadUInt16LittleEndian(image[offset..]) == value)
            {
                return offset;
            }
        }

        return -1;
    }

    /// <summary>The header's value first: it is the reference, ours is what is checked.</summary>
    private static void Same(Dictionary<string, long> headers, string name, long ours) =>
        Assert.That(ours, Is.EqualTo(headers[name]), name);

    private static async Task<Dictionary<string, long>> CompileAndRunAsync()
    {
        string? gcc = new[] { "/usr/bin/gcc", "/usr/local/bin/gcc" }.FirstOrDefault(File.Exists);
        if (gcc is null || !File.Exists("/usr/include/linux/tls.h"))
        {
            Assert.Ignore("gcc or the kernel UAPI headers are missing (apt-get install gcc libc6-dev)");
        }

        string dir = Directory.CreateTempSubdirectory("ktls-uapi.").FullName;
        try
        {
            string source = Path.Combine(dir, "uapi.c");
            string binary = Path.Combine(dir, "uapi");
            await File.WriteAllTextAsync(source, Program);
            var compiled = await ToolRunner.RunAsync(gcc!, ["-o", binary, source]);
            Assert.That(compiled.ExitCode, Is.Zero, "gcc: " + compiled);
            var run = await ToolRunner.RunAsync(binary, []);
            Assert.That(run.ExitCode, Is.Zero, run.ToString());
            TestContext.Out.WriteLine(run.Stdout);
            return run.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries)
                .Select(line => line.Split(' '))
                .ToDictionary(parts => parts[0], parts => long.Parse(parts[1], CultureInfo.InvariantCulture), StringComparer.Ordinal);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
