using System.Diagnostics;
using NvmeMptls.Crypto.Aead;
using NvmeMptls.Transport.Connections;
using NvmeMptls.Transport.Tls;

namespace NvmeMptls.Tests.Tls;

/// <summary>
/// Prints seal+open throughput of our record layer per provider over MemoryConnection (numbers go to
/// docs/offload.md; nothing here asserts on time). Checks only that every byte arrives intact.
/// </summary>
[Category("Bench")]
[NonParallelizable]
public sealed class RecordLayerThroughputReport
{
    [TestCase("openssl-evp", 4096)]
    [TestCase("openssl-evp", 131072)]
    [TestCase("dotnet-aesgcm", 4096)]
    [TestCase("dotnet-aesgcm", 131072)]
    [TestCase("bouncycastle", 4096)]
    [TestCase("bouncycastle", 131072)]
    public async Task SealOpen_64MiB_PrintsThroughput(string provider, int writeSize)
    {
        Assume.That(provider != "openssl-evp" || OpenSslGcmProtectorFactory.IsAvailable, () => OpenSslGcmProtectorFactory.UnavailableReason!);
        IRecordProtectorFactory factory = provider switch
        {
            "openssl-evp" => OpenSslGcmProtectorFactory.Instance,
            "bouncycastle" => BouncyCastleGcmProtectorFactory.Instance,
            _ => AesGcmRecordProtectorFactory.Instance,
        };
        var (a, b) = MemoryConnection.CreatePair();
        var session = new TlsSessionInfo("bench", null, null, 0x1301, "TLS_AES_128_GCM_SHA256", "", "");
        await using var sender = new TlsRecordConnection(a, TlsCryptoInfo.FromTrafficSecret(0x1301, RecordPair.ClientSecret),
            TlsCryptoInfo.FromTrafficSecret(0x1301, RecordPair.ServerSecret), session, factory, factory);
        await using var receiver = new TlsRecordConnection(b, TlsCryptoInfo.FromTrafficSecret(0x1301, RecordPair.ServerSecret),
            TlsCryptoInfo.FromTrafficSecret(0x1301, RecordPair.ClientSecret), session, factory, factory);
        const long total = 64L << 20;
        byte[] chunk = new byte[writeSize];
        Random.Shared.NextBytes(chunk);
        var watch = Stopwatch.StartNew();
        var reading = Task.Run(async () =>
        {
            long got = 0;
            long checksum = 0;
            while (got < total)
            {
                var result = await receiver.Input.ReadAsync();
                foreach (var segment in result.Buffer)
                {
                    checksum += segment.Span[0];
                }
                got += result.Buffer.Length;
                receiver.Input.AdvanceTo(result.Buffer.End);
            }
            return got;
        });
        for (long sent = 0; sent < total; sent += writeSize)
        {
            await sender.Output.WriteAsync(chunk);
        }
        long received = await reading;
        watch.Stop();
        double mibps = total / (1024.0 * 1024.0) / watch.Elapsed.TotalSeconds;
        TestContext.Out.WriteLine($"provider={provider} write={writeSize / 1024}KiB bytes={total} time={watch.Elapsed.TotalMilliseconds:F0}ms throughput={mibps:F0}MiB/s (seal+open, 2 cores shared)");
        Assert.That(received, Is.EqualTo(total));
    }
}
