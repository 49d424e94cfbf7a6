using BenchmarkDotNet.Attributes;
using NvmeMptls.Crypto.Aead;
using NvmeMptls.Transport.Tls;

namespace NvmeMptls.Bench.Micro;

/// <summary>
/// Sealing and opening one TLS record in place, per AEAD provider and key size: a full 16 KiB record and a record
/// carrying one 4 KiB read's PDUs. The record layer adds the framing around these.
/// </summary>
[MemoryDiagnoser]
public class RecordProtectorBenchmarks
{
    private IRecordProtector _sealer = null!;
    private IRecordProtector _opener = null!;
    private byte[] _record = null!;
    private readonly byte[] _tag = new byte[TlsRecordLimits.TagLength];
    private readonly byte[] _nonce = new byte[TlsRecordLimits.NonceLength];
    private readonly byte[] _aad = [23, 3, 3, 0, 0];

    [Params("openssl-evp", "dotnet-aesgcm", "bouncycastle")]
    public string Provider { get; set; } = "dotnet-aesgcm";

    [Params(16, 32)]
    public int KeyBytes { get; set; }

    [Params(4096 + 24 + 8 + 24 + 1, TlsRecordLimits.MaxPlaintext + 1)]
    public int InnerPlaintext { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        IRecordProtectorFactory factory = Provider switch
        {
            "openssl-evp" => OpenSslGcmProtectorFactory.Instance,
            "bouncycastle" => BouncyCastleGcmProtectorFactory.Instance,
            _ => AesGcmRecordProtectorFactory.Instance,
        };
        var key = new byte[KeyBytes];
        Random.Shared.NextBytes(key);
        _sealer = factory.Create(key);
        _opener = factory.Create(key);
        _record = new byte[InnerPlaintext];
        Random.Shared.NextBytes(_record);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _sealer.Dispose();
        _opener.Dispose();
    }

    private ulong _sequence;

    /// <summary>A fresh nonce per record, as the record layer makes (GCM providers may refuse to seal twice under one).</summary>
    private byte[] NextNonce()
    {
        System.Buffers.Binary.BinaryPrimitives.WriteUInt64BigEndian(_nonce.AsSpan(4), ++_sequence);
        return _nonce;
    }

    [Benchmark]
    public void Seal() => _sealer.Seal(NextNonce(), _record, _tag, _aad);

    [Benchmark]
    public bool SealThenOpen()
    {
        _sealer.Seal(NextNonce(), _record, _tag, _aad);
        return _opener.TryOpen(_nonce, _record, _tag, _aad);
    }
}
