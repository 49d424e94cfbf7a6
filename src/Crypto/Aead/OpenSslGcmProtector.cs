using System.Runtime.InteropServices;
using System.Security.Cryptography;
using NvmeMptls.Transport.Tls;

namespace NvmeMptls.Crypto.Aead;

/// <summary>
/// AES-GCM through one OpenSSL EVP context per key and direction, kept for the key's life: per record only a new IV,
/// the record header as additional data, the data in place, and the tag. It is the same AES-NI/VAES code .NET's
/// <c>AesGcm</c> reaches, without that class's per-call key set-up and error-queue clearing (numbers in
/// docs/offload.md). The context sits in a <see cref="SafeHandle"/>, so a record sealed after disposal is refused
/// with <see cref="ObjectDisposedException"/> instead of reaching freed memory. One thread at a time: the record
/// layer seals under its write lock and opens in its one receive loop.
/// </summary>
public sealed unsafe class OpenSslGcmProtector : IRecordProtector
{
    private readonly EvpContext _ctx;

    private OpenSslGcmProtector(EvpContext ctx) => _ctx = ctx;

    /// <summary>A protector for <paramref name="key"/> (16 or 32 bytes) sealing when <paramref name="encrypt"/>, else opening.</summary>
    public static OpenSslGcmProtector Create(ReadOnlySpan<byte> key, bool encrypt)
    {
        if (key.Length is not (16 or 32))
        {
            throw new ArgumentException("AES-GCM keys are 16 or 32 bytes", nameof(key));
        }
        if (!LibCrypto.IsAvailable)
        {
            throw new PlatformNotSupportedException(LibCrypto.Unavailable);
        }
        nint ctx = LibCrypto.NewGcm(key, encrypt);
        if (ctx == 0)
        {
            throw new CryptographicException("OpenSSL could not set up an AES-GCM context");
        }
        return new OpenSslGcmProtector(new EvpContext(ctx, encrypt));
    }

    public void Seal(ReadOnlySpan<byte> nonce, Span<byte> data, Span<byte> tag, ReadOnlySpan<byte> aad) =>
        SealTo(nonce, data, data, tag, aad);

    /// <summary>Seals <paramref name="plaintext"/> into <paramref name="ciphertext"/> (the same length; they may be the same span).</summary>
    public void SealTo(ReadOnlySpan<byte> nonce, ReadOnlySpan<byte> plaintext, Span<byte> ciphertext, Span<byte> tag, ReadOnlySpan<byte> aad)
    {
        if (!_ctx.Encrypt)
        {
            throw new InvalidOperationException("this protector opens records; it cannot seal");
        }
        Check(nonce, plaintext.Length, ciphertext.Length, tag.Length);
        bool added = false;
        try
        {
            _ctx.DangerousAddRef(ref added);
            nint ctx = _ctx.DangerousGetHandle();
            fixed (byte* n = nonce)
            fixed (byte* a = aad)
            fixed (byte* p = plaintext)
            fixed (byte* c = ciphertext)
            fixed (byte* t = tag)
            {
                if (!(LibCrypto.SetIv(ctx, n)
                      && LibCrypto.Update(ctx, null, a, aad.Length)
                      && LibCrypto.Update(ctx, c, p, plaintext.Length)
                      && LibCrypto.Final(ctx)
                      && LibCrypto.Ctrl(ctx, LibCrypto.CtrlGetTag, TlsRecordLimits.TagLength, t)))
                {
                    LibCrypto.ClearErrors();
                    CryptographicOperations.ZeroMemory(ciphertext);
                    throw new CryptographicException("OpenSSL refused to seal a record");
                }
            }
        }
        finally
        {
            if (added)
            {
                _ctx.DangerousRelease();
            }
        }
    }

    public bool TryOpen(ReadOnlySpan<byte> nonce, Span<byte> data, ReadOnlySpan<byte> tag, ReadOnlySpan<byte> aad) =>
        TryOpenTo(nonce, data, tag, aad, data);

    public bool TryOpenTo(ReadOnlySpan<byte> nonce, ReadOnlySpan<byte> ciphertext, ReadOnlySpan<byte> tag, ReadOnlySpan<byte> aad, Span<byte> plaintext)
    {
        if (_ctx.Encrypt)
        {
            throw new InvalidOperationException("this protector seals records; it cannot open");
        }
        Check(nonce, ciphertext.Length, plaintext.Length, tag.Length);
        plaintext = plaintext[..ciphertext.Length];
        bool added = false;
        try
        {
            _ctx.DangerousAddRef(ref added);
            nint ctx = _ctx.DangerousGetHandle();
            fixed (byte* n = nonce)
            fixed (byte* a = aad)
            fixed (byte* c = ciphertext)
            fixed (byte* p = plaintext)
            fixed (byte* t = tag)
            {
                if (LibCrypto.SetIv(ctx, n)
                    && LibCrypto.Ctrl(ctx, LibCrypto.CtrlSetTag, TlsRecordLimits.TagLength, t)
                    && LibCrypto.Update(ctx, null, a, aad.Length)
                    && LibCrypto.Update(ctx, p, c, ciphertext.Length)
                    && LibCrypto.Final(ctx))
                {
                    return true;
                }
            }
            // A tag that does not verify leaves an error on the queue; the decrypted bytes are unauthenticated.
            LibCrypto.ClearErrors();
            CryptographicOperations.ZeroMemory(plaintext);
            return false;
        }
        finally
        {
            if (added)
            {
                _ctx.DangerousRelease();
            }
        }
    }

    private static void Check(ReadOnlySpan<byte> nonce, int inputLength, int outputLength, int tagLength)
    {
        if (nonce.Length != TlsRecordLimits.NonceLength)
        {
            throw new ArgumentException($"the nonce is {TlsRecordLimits.NonceLength} bytes", nameof(nonce));
        }
        if (outputLength < inputLength)
        {
            throw new ArgumentException("the output is shorter than the input", nameof(outputLength));
        }
        if (tagLength != TlsRecordLimits.TagLength)
        {
            throw new ArgumentException($"the tag is {TlsRecordLimits.TagLength} bytes", nameof(tagLength));
        }
    }

    public void Dispose() => _ctx.Dispose();

    private sealed class EvpContext : SafeHandle
    {
        public EvpContext(nint ctx, bool encrypt) : base(0, ownsHandle: true)
        {
            SetHandle(ctx);
            Encrypt = encrypt;
        }

        public bool Encrypt { get; }

        public override bool IsInvalid => handle == 0;

        protected override bool ReleaseHandle()
        {
            LibCrypto.Free(handle);
            return true;
        }
    }
}

/// <summary>
/// Factory for <see cref="OpenSslGcmProtector"/>. A record protector seals or opens, never both; the record layer
/// asks a factory for its sealer and its opener separately, so there is one factory per direction.
/// </summary>
public sealed class OpenSslGcmProtectorFactory : IRecordProtectorFactory
{
    public static readonly OpenSslGcmProtectorFactory Sealing = new(encrypt: true);
    public static readonly OpenSslGcmProtectorFactory Opening = new(encrypt: false);

    private readonly bool _encrypt;

    private OpenSslGcmProtectorFactory(bool encrypt) => _encrypt = encrypt;

    /// <summary>False where libcrypto 3 cannot be loaded; <see cref="UnavailableReason"/> says why.</summary>
    public static bool IsAvailable => LibCrypto.IsAvailable;

    public static string? UnavailableReason => LibCrypto.Unavailable;

    public string Name => "openssl-evp";

    public IRecordProtector Create(ReadOnlySpan<byte> key) => OpenSslGcmProtector.Create(key, _encrypt);
}
