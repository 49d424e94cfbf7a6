using System.Runtime.InteropServices;

namespace NvmeMptls.Crypto.Aead;

/// <summary>
/// The few OpenSSL 3 EVP calls one AES-GCM context needs for a stream of records (include/openssl/evp.h): made once
/// with its key, then per record a new IV, the additional data, the data and the tag. .NET's <c>AesGcm</c> goes
/// through OpenSSL too but sets the key up again, clears the error queue and looks its parameters up on every call.
/// Bound by function pointer from libcrypto.so.3 as the dynamic loader finds it (the one .NET loads too, unless
/// DOTNET_OPENSSL_VERSION_OVERRIDE or an app-local copy says otherwise); <see cref="IsAvailable"/> is false where
/// there is none of version 3 or later, or where it fails a known-answer seal, and then nothing here is called.
/// </summary>
internal static unsafe class LibCrypto
{
    /// <summary>EVP_CTRL_AEAD_GET_TAG and EVP_CTRL_AEAD_SET_TAG (include/openssl/evp.h).</summary>
    public const int CtrlGetTag = 0x10;
    public const int CtrlSetTag = 0x11;

    private static readonly delegate* unmanaged<nint> CtxNew;
    private static readonly delegate* unmanaged<nint, void> CtxFree;
    private static readonly delegate* unmanaged<nint> Aes128Gcm;
    private static readonly delegate* unmanaged<nint> Aes256Gcm;
    private static readonly delegate* unmanaged<nint, nint, nint, byte*, byte*, int, int> CipherInit;
    private static readonly delegate* unmanaged<nint, byte*, int*, byte*, int, int> CipherUpdate;
    private static readonly delegate* unmanaged<nint, byte*, int*, int> CipherFinal;
    private static readonly delegate* unmanaged<nint, int, int, void*, int> CipherCtrl;
    private static readonly delegate* unmanaged<void> ClearError;

    /// <summary>Why the provider is unavailable (null when it is available).</summary>
    public static string? Unavailable { get; }

    public static bool IsAvailable => Unavailable is null;

    static LibCrypto()
    {
        if (!OperatingSystem.IsLinux())
        {
            Unavailable = "OpenSSL's EVP provider is bound on Linux only";
            return;
        }
        if (!NativeLibrary.TryLoad("libcrypto.so.3", out nint lib))
        {
            Unavailable = "libcrypto.so.3 (OpenSSL 3) is not installed";
            return;
        }
        try
        {
            var version = (delegate* unmanaged<nuint>)NativeLibrary.GetExport(lib, "OpenSSL_version_num");
            if (version() < 0x3000_0000)
            {
                Unavailable = "libcrypto.so.3 reports a version older than 3.0";
                return;
            }
            CtxNew = (delegate* unmanaged<nint>)NativeLibrary.GetExport(lib, "EVP_CIPHER_CTX_new");
            CtxFree = (delegate* unmanaged<nint, void>)NativeLibrary.GetExport(lib, "EVP_CIPHER_CTX_free");
            Aes128Gcm = (delegate* unmanaged<nint>)NativeLibrary.GetExport(lib, "EVP_aes_128_gcm");
            Aes256Gcm = (delegate* unmanaged<nint>)NativeLibrary.GetExport(lib, "EVP_aes_256_gcm");
            CipherInit = (delegate* unmanaged<nint, nint, nint, byte*, byte*, int, int>)NativeLibrary.GetExport(lib, "EVP_CipherInit_ex");
            CipherUpdate = (delegate* unmanaged<nint, byte*, int*, byte*, int, int>)NativeLibrary.GetExport(lib, "EVP_CipherUpdate");
            CipherFinal = (delegate* unmanaged<nint, byte*, int*, int>)NativeLibrary.GetExport(lib, "EVP_CipherFinal_ex");
            CipherCtrl = (delegate* unmanaged<nint, int, int, void*, int>)NativeLibrary.GetExport(lib, "EVP_CIPHER_CTX_ctrl");
            ClearError = (delegate* unmanaged<void>)NativeLibrary.GetExport(lib, "ERR_clear_error");
            if (!SelfTest())
            {
                Unavailable = "libcrypto.so.3 did not seal the GCM specification's test case 2 correctly (provider or configuration)";
            }
        }
        catch (Exception e)
        {
            Unavailable = $"libcrypto.so.3 could not be bound: {e.Message}";
        }
    }

    /// <summary>
    /// Seals the GCM specification's test case 2 (zero key, zero IV, one zero block) and checks ciphertext and tag, so a
    /// libcrypto whose configuration cannot give an AES-GCM context (a missing provider, an ENGINE that overrides it)
    /// is found once here and the record layer falls back, instead of failing every connection.
    /// </summary>
    private static bool SelfTest()
    {
        ReadOnlySpan<byte> expected =
        [
            0x03, 0x88, 0xda, 0xce, 0x60, 0xb6, 0xa3, 0x92, 0xf3, 0x28, 0xc2, 0xb9, 0x71, 0xb2, 0xfe, 0x78, // ciphertext
            0xab, 0x6e, 0x47, 0xd4, 0x2c, 0xec, 0x13, 0xbd, 0xf5, 0x3a, 0x67, 0xb2, 0x12, 0x57, 0xbd, 0xdf, // tag
        ];
        Span<byte> key = stackalloc byte[16];
        key.Clear();
        nint ctx = NewGcm(key, encrypt: true);
        if (ctx == 0)
        {
            return false;
        }
        try
        {
            byte* iv = stackalloc byte[12];
            byte* block = stackalloc byte[32];
            new Span<byte>(iv, 12).Clear();
            new Span<byte>(block, 32).Clear();
            bool sealedOk = SetIv(ctx, iv) && Update(ctx, block, block, 16) && Final(ctx) && Ctrl(ctx, CtrlGetTag, 16, block + 16);
            if (!sealedOk)
            {
                ClearError();
            }
            return sealedOk && new ReadOnlySpan<byte>(block, 32).SequenceEqual(expected);
        }
        finally
        {
            CtxFree(ctx);
        }
    }

    /// <summary>A new context keyed for AES-GCM in one direction; zero when OpenSSL refused (the error queue is cleared).</summary>
    public static nint NewGcm(ReadOnlySpan<byte> key, bool encrypt)
    {
        nint ctx = CtxNew();
        if (ctx == 0)
        {
            return 0;
        }
        nint cipher = key.Length == 16 ? Aes128Gcm() : Aes256Gcm();
        fixed (byte* k = key)
        {
            // The default IV length of EVP's GCM is 12 bytes, the TLS 1.3 nonce (RFC 8446 §5.3): no SET_IVLEN needed.
            if (CipherInit(ctx, cipher, 0, k, null, encrypt ? 1 : 0) == 1)
            {
                return ctx;
            }
        }
        ClearError();
        CtxFree(ctx);
        return 0;
    }

    /// <summary>Frees a context; OpenSSL wipes its key schedule.</summary>
    public static void Free(nint ctx) => CtxFree(ctx);

    /// <summary>Starts a record: a new 12-byte IV under the context's key and direction.</summary>
    public static bool SetIv(nint ctx, byte* iv) => CipherInit(ctx, 0, 0, null, iv, -1) == 1;

    /// <summary>Additional data (no output) when <paramref name="output"/> is null, else data in, same length out.</summary>
    public static bool Update(nint ctx, byte* output, byte* input, int length)
    {
        int written;
        return CipherUpdate(ctx, output, &written, input, length) == 1;
    }

    /// <summary>Ends a record. Decrypting, false means the tag did not verify.</summary>
    public static bool Final(nint ctx)
    {
        // GCM is a stream mode: Final writes nothing, but OpenSSL wants somewhere to write it.
        byte spare;
        int written;
        return CipherFinal(ctx, &spare, &written) == 1;
    }

    public static bool Ctrl(nint ctx, int type, int length, byte* value) => CipherCtrl(ctx, type, length, value) == 1;

    /// <summary>Empties this thread's error queue after a call that failed, so a later, unrelated OpenSSL call does not report it.</summary>
    public static void ClearErrors() => ClearError();
}
