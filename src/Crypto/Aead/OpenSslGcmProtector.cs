using System.Runtime.InteropServices;
using System.Security.Cryptography;
using NvmeMptls.Transport.Tls;

namespace NvmeMptls.Crypto.Aead;

/// <summary>
/// AES-GCM through OpenSSL EVP contexts kept for the key's life, one for sealing and one for opening (or only the one a
/// record layer's key needs: <see cref="Create(ReadOnlySpan{byte}, bool, bool)"/>): per record only
/// a new IV, the record header as additional data, the data, and the tag. It is the same AES-NI/VAES code .NET's
/// <c>AesGcm</c> reaches, without that class's per-call key set-up and error-queue clearing (numbers in
/// docs/offload.md). The contexts sit in <see cref="SafeHandle"/>s, so a record sealed after disposal is refused with
/// <see cref="ObjectDisposedException"/> instead of reaching freed memory. One thread at a time per direction: the
/// record layer seals under its write lock and opens in its one receive loop.
/// </summary>
public sealed unsafe class OpenSslGcmProtector : IRecordProtector
{
    private readonly EvpContext? _sealer;
    private readonly EvpContext? _opener;

    private OpenSslGcmProtector(EvpContext? sealer, EvpContext? opener)
    {
        _sealer = sealer;
        _opener = opener;
    }

    /// <summary>A protector for <paramref name="key"/> (16 or 32 bytes, copied into OpenSSL's key schedule) that seals and opens.</summary>
    public static OpenSslGcmProtector Create(ReadOnlySpan<byte> key) => Create(key, seals: true, opens: true);

    /// <summary>
    /// A protector for <paramref name="key"/> with a context for each direction asked for: a TLS key protects one
    /// direction, so the record layer's sealer and opener each need one context (about 1 KiB of OpenSSL's memory and a
    /// key schedule set up at connect and at every KeyUpdate). A call in a direction not asked for throws
    /// <see cref="InvalidOperationException"/>.
    /// </summary>
    public static OpenSslGcmProtector Create(ReadOnlySpan<byte> key, bool seals, bool opens)
    {
        if (!seals && !opens)
        {
            throw new ArgumentException("a protector seals, opens, or both", nameof(seals));
        }
        if (key.Length is not (16 or 32))
        {
            throw new ArgumentException("AES-GCM keys are 16 or 32 bytes", nameof(key));
        }
        if (!LibCrypto.IsAvailable)
        {
            throw new PlatformNotSupportedException(LibCrypto.Unavailable);
        }
        EvpContext? sealer = seals ? new EvpContext(LibCrypto.NewGcm(key, encrypt: true)) : null;
        EvpContext? opener = opens ? new EvpContext(LibCrypto.NewGcm(key, encrypt: false)) : null;
        if (sealer?.IsInvalid == true || opener?.IsInvalid == true)
        {
            sealer?.Dispose();
            opener?.Dispose();
            throw new CryptographicException("OpenSSL could not set up an AES-GCM context");
        }
        return new OpenSslGcmProtector(sealer, opener);
    }

    public void Seal(ReadOnlySpan<byte> nonce, Span<byte> data, Span<byte> tag, ReadOnlySpan<byte> aad) =>
        SealTo(nonce, data, data, tag, aad);

    /// <summary>Seals <paramref name="plaintext"/> into <paramref name="ciphertext"/> (the same length; they may be the same span).</summary>
    public void SealTo(ReadOnlySpan<byte> nonce, ReadOnlySpan<byte> plaintext, Span<byte> ciphertext, Span<byte> tag, ReadOnlySpan<byte> aad)
    {
        Check(nonce, plaintext, ciphertext, tag.Length);
        fixed (byte* p = plaintext)
        fixed (byte* c = ciphertext)
        {
            SealParts(nonce, aad, tag, p, c, plaintext.Length, null, null, 0, ciphertext);
        }
    }

    /// <summary>
    /// One pass: <paramref name="data"/>[..<paramref name="at"/>] and the bytes after the spliced part are sealed in
    /// place, <paramref name="source"/> is sealed from where it lies into the part between.
    /// </summary>
    public void SealFrom(ReadOnlySpan<byte> nonce, Span<byte> data, int at, ReadOnlySpan<byte> source, Span<byte> tag, ReadOnlySpan<byte> aad)
    {
        if (at < 0 || at > data.Length - source.Length)
        {
            throw new ArgumentOutOfRangeException(nameof(at), at, $"the spliced {source.Length} bytes do not fit a record of {data.Length} at {at}");
        }
        Check(nonce, source, data.Slice(at, source.Length), tag.Length);
        // The parts around the source are sealed in place before it is read: a source inside them would be read encrypted.
        if (((ReadOnlySpan<byte>)data).Overlaps(source, out int offset) && offset != at) // offset: where source starts in data
        {
            throw new ArgumentException("the source overlaps the record somewhere other than its own place", nameof(source));
        }
        int after = at + source.Length;
        fixed (byte* d = data)
        fixed (byte* s = source)
        {
            SealParts(nonce, aad, tag, d, d, at, s, d + at, source.Length, data, after);
        }
    }

    /// <summary>
    /// Seals up to three consecutive parts of one record: <paramref name="length1"/> bytes from <paramref name="in1"/> to
    /// <paramref name="out1"/>, <paramref name="length2"/> from <paramref name="in2"/> to <paramref name="out2"/>, and
    /// <paramref name="output"/>[<paramref name="tailFrom"/>..] in place. Zero-length parts are skipped: OpenSSL takes
    /// an update without output as additional data, which it refuses once data has gone through.
    /// </summary>
    private void SealParts(ReadOnlySpan<byte> nonce, ReadOnlySpan<byte> aad, Span<byte> tag, byte* in1, byte* out1, int length1,
        byte* in2, byte* out2, int length2, Span<byte> output, int tailFrom = -1)
    {
        EvpContext sealer = _sealer ?? throw new InvalidOperationException("this protector was made to open records only");
        bool added = false;
        try
        {
            sealer.DangerousAddRef(ref added);
            nint ctx = sealer.DangerousGetHandle();
            int tailLength = tailFrom < 0 ? 0 : output.Length - tailFrom;
            fixed (byte* n = nonce)
            fixed (byte* a = aad)
            fixed (byte* t = tag)
            fixed (byte* tail = tailLength > 0 ? output[tailFrom..] : default)
            {
                if (!(LibCrypto.SetIv(ctx, n)
                      && (aad.IsEmpty || LibCrypto.Update(ctx, null, a, aad.Length))
                      && (length1 == 0 || LibCrypto.Update(ctx, out1, in1, length1))
                      && (length2 == 0 || LibCrypto.Update(ctx, out2, in2, length2))
                      && (tailLength == 0 || LibCrypto.Update(ctx, tail, tail, tailLength))
                      && LibCrypto.Final(ctx)
                      && LibCrypto.Ctrl(ctx, LibCrypto.CtrlGetTag, TlsRecordLimits.TagLength, t)))
                {
                    LibCrypto.ClearErrors();
                    CryptographicOperations.ZeroMemory(output);
                    throw new CryptographicException("OpenSSL refused to seal a record");
                }
            }
        }
        finally
        {
            if (added)
            {
                sealer.DangerousRelease();
            }
        }
    }

    public bool TryOpen(ReadOnlySpan<byte> nonce, Span<byte> data, ReadOnlySpan<byte> tag, ReadOnlySpan<byte> aad) =>
        TryOpenTo(nonce, data, tag, aad, data);

    public bool TryOpenTo(ReadOnlySpan<byte> nonce, ReadOnlySpan<byte> ciphertext, ReadOnlySpan<byte> tag, ReadOnlySpan<byte> aad, Span<byte> plaintext)
    {
        Check(nonce, ciphertext, plaintext, tag.Length);
        plaintext = plaintext[..ciphertext.Length];
        EvpContext opener = _opener ?? throw new InvalidOperationException("this protector was made to seal records only");
        bool added = false;
        try
        {
            opener.DangerousAddRef(ref added);
            nint ctx = opener.DangerousGetHandle();
            fixed (byte* n = nonce)
            fixed (byte* a = aad)
            fixed (byte* c = ciphertext)
            fixed (byte* p = plaintext)
            fixed (byte* t = tag)
            {
                if (LibCrypto.SetIv(ctx, n)
                    && LibCrypto.Ctrl(ctx, LibCrypto.CtrlSetTag, TlsRecordLimits.TagLength, t)
                    && (aad.IsEmpty || LibCrypto.Update(ctx, null, a, aad.Length))
                    && (ciphertext.IsEmpty || LibCrypto.Update(ctx, p, c, ciphertext.Length))
                    && LibCrypto.Final(ctx))
                {
                    return true;
                }
            }
            // The decrypted bytes are unauthenticated. A bad tag puts nothing on OpenSSL's error queue, but a refused
            // call may have: it is emptied so that no later OpenSSL call on this thread reports it.
            LibCrypto.ClearErrors();
            CryptographicOperations.ZeroMemory(plaintext);
            return false;
        }
        finally
        {
            if (added)
            {
                opener.DangerousRelease();
            }
        }
    }

    private static void Check(ReadOnlySpan<byte> nonce, ReadOnlySpan<byte> input, ReadOnlySpan<byte> output, int tagLength)
    {
        if (nonce.Length != TlsRecordLimits.NonceLength)
        {
            throw new ArgumentException($"the nonce is {TlsRecordLimits.NonceLength} bytes", nameof(nonce));
        }
        if (output.Length < input.Length)
        {
            throw new ArgumentException("the output is shorter than the input", nameof(output));
        }
        // OpenSSL's provider does not check: an output that starts inside the input would read bytes already written.
        if (input.Overlaps(output, out int offset) && offset != 0)
        {
            throw new ArgumentException("the output overlaps the input at another position; it must be the same bytes or apart", nameof(output));
        }
        if (tagLength != TlsRecordLimits.TagLength)
        {
            throw new ArgumentException($"the tag is {TlsRecordLimits.TagLength} bytes", nameof(tagLength));
        }
    }

    public void Dispose()
    {
        _sealer?.Dispose();
        _opener?.Dispose();
    }

    private sealed class EvpContext : SafeHandle
    {
        public EvpContext(nint ctx) : base(0, ownsHandle: true) => SetHandle(ctx);

        public override bool IsInvalid => handle == 0;

        protected override bool ReleaseHandle()
        {
            LibCrypto.Free(handle);
            return true;
        }
    }
}

/// <summary>Factory for <see cref="OpenSslGcmProtector"/>.</summary>
public sealed class OpenSslGcmProtectorFactory : IRecordProtectorFactory
{
    public static readonly OpenSslGcmProtectorFactory Instance = new();

    /// <summary>False where libcrypto 3 cannot be loaded or fails its known-answer seal; <see cref="UnavailableReason"/> says why.</summary>
    public static bool IsAvailable => LibCrypto.IsAvailable;

    public static string? UnavailableReason => LibCrypto.Unavailable;

    public string Name => "openssl-evp";

    public IRecordProtector Create(ReadOnlySpan<byte> key) => OpenSslGcmProtector.Create(key);

    public IRecordProtector CreateSealer(ReadOnlySpan<byte> key) => OpenSslGcmProtector.Create(key, seals: true, opens: false);

    public IRecordProtector CreateOpener(ReadOnlySpan<byte> key) => OpenSslGcmProtector.Create(key, seals: false, opens: true);
}
