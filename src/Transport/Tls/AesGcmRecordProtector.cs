using System.Security.Cryptography;

namespace NvmeMptls.Transport.Tls;

/// <summary>The default provider: .NET <see cref="AesGcm"/> (OpenSSL on Linux, AES-NI where present).</summary>
public sealed class AesGcmRecordProtector : IRecordProtector
{
    private readonly AesGcm _aes;

    public AesGcmRecordProtector(ReadOnlySpan<byte> key) => _aes = new AesGcm(key, TlsRecordLimits.TagLength);

    public void Seal(ReadOnlySpan<byte> nonce, Span<byte> data, Span<byte> tag, ReadOnlySpan<byte> aad) =>
        _aes.Encrypt(nonce, data, data, tag, aad);

    public bool TryOpen(ReadOnlySpan<byte> nonce, Span<byte> data, ReadOnlySpan<byte> tag, ReadOnlySpan<byte> aad)
    {
        try
        {
            _aes.Decrypt(nonce, data, tag, data, aad);
            return true;
        }
        catch (AuthenticationTagMismatchException)
        {
            return false;
        }
    }

    public bool TryOpenTo(ReadOnlySpan<byte> nonce, ReadOnlySpan<byte> ciphertext, ReadOnlySpan<byte> tag, ReadOnlySpan<byte> aad, Span<byte> plaintext)
    {
        try
        {
            _aes.Decrypt(nonce, ciphertext, tag, plaintext[..ciphertext.Length], aad);
            return true;
        }
        catch (AuthenticationTagMismatchException)
        {
            return false;
        }
    }

    public void Dispose() => _aes.Dispose();
}

/// <summary>Factory for <see cref="AesGcmRecordProtector"/>.</summary>
public sealed class AesGcmRecordProtectorFactory : IRecordProtectorFactory
{
    public static readonly AesGcmRecordProtectorFactory Instance = new();

    public string Name => "dotnet-aesgcm";

    public IRecordProtector Create(ReadOnlySpan<byte> key) => new AesGcmRecordProtector(key);
}
