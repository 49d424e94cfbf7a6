using System.Security.Cryptography;
using NvmeMptls.Transport.Tls;
using Org.BouncyCastle.Crypto;
using Org.BouncyCastle.Crypto.Modes;
using Org.BouncyCastle.Crypto.Parameters;

namespace NvmeMptls.Crypto.Aead;

/// <summary>
/// The fallback provider: BouncyCastle's managed AES-GCM, for platforms where .NET has no native AES-GCM.
/// BC's GCM re-initialises per record with a fresh nonce, which costs two small objects per record; it is the
/// slow path by design (numbers in docs/offload.md).
/// </summary>
public sealed class BouncyCastleGcmProtector : IRecordProtector
{
    private readonly byte[] _key;
    private readonly GcmBlockCipher _gcm = new(AesUtilities.CreateEngine());
    private readonly byte[] _tag = new byte[TlsRecordLimits.TagLength];

    public BouncyCastleGcmProtector(ReadOnlySpan<byte> key)
    {
        if (key.Length is not (16 or 32))
        {
            throw new ArgumentException("AES-GCM keys are 16 or 32 bytes", nameof(key));
        }
        _key = key.ToArray();
    }

    public void Seal(ReadOnlySpan<byte> nonce, Span<byte> data, Span<byte> tag, ReadOnlySpan<byte> aad)
    {
        _gcm.Init(true, new AeadParameters(new KeyParameter(_key), TlsRecordLimits.TagLength * 8, nonce.ToArray()));
        _gcm.ProcessAadBytes(aad);
        int written = _gcm.ProcessBytes(data, data);
        // GCM encryption buffers at most one block; DoFinal writes the tail and then the tag.
        Span<byte> tail = stackalloc byte[16 + TlsRecordLimits.TagLength];
        int final = _gcm.DoFinal(tail);
        int tailData = final - TlsRecordLimits.TagLength;
        tail[..tailData].CopyTo(data[written..]);
        tail.Slice(tailData, TlsRecordLimits.TagLength).CopyTo(tag);
    }

    public bool TryOpen(ReadOnlySpan<byte> nonce, Span<byte> data, ReadOnlySpan<byte> tag, ReadOnlySpan<byte> aad)
    {
        _gcm.Init(false, new AeadParameters(new KeyParameter(_key), TlsRecordLimits.TagLength * 8, nonce.ToArray()));
        _gcm.ProcessAadBytes(aad);
        int written = _gcm.ProcessBytes(data, data);
        tag.CopyTo(_tag);
        written += _gcm.ProcessBytes(_tag, data[written..]);
        try
        {
            _gcm.DoFinal(data[written..]);
            return true;
        }
        catch (InvalidCipherTextException)
        {
            CryptographicOperations.ZeroMemory(data);
            return false;
        }
    }

    // No _gcm.Reset(): BouncyCastle throws from it on a cipher never initialised (a protector disposed before its first
    // record), and the key schedule is rebuilt from _key at every Init anyway.
    public void Dispose() => CryptographicOperations.ZeroMemory(_key);
}

/// <summary>Factory for <see cref="BouncyCastleGcmProtector"/>.</summary>
public sealed class BouncyCastleGcmProtectorFactory : IRecordProtectorFactory
{
    public static readonly BouncyCastleGcmProtectorFactory Instance = new();

    public string Name => "bouncycastle";

    public IRecordProtector Create(ReadOnlySpan<byte> key) => new BouncyCastleGcmProtector(key);
}
