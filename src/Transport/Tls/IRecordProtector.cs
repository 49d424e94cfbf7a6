namespace NvmeMptls.Transport.Tls;

/// <summary>
/// The AEAD seam of the record layer: one key, one direction. Implementations: .NET <c>AesGcm</c> (here), OpenSSL
/// EVP with one context per key and direction (Crypto/Aead, the default), BouncyCastle managed GCM (Crypto/Aead). All
/// operate in place: <paramref name="data"/> is plaintext in and ciphertext out for <see cref="Seal"/>, and the reverse
/// for <see cref="TryOpen"/>.
/// </summary>
public interface IRecordProtector : IDisposable
{
    void Seal(ReadOnlySpan<byte> nonce, Span<byte> data, Span<byte> tag, ReadOnlySpan<byte> aad);

    /// <summary>
    /// Seals a record in which <paramref name="source"/> (the caller's memory, say a read's buffer) takes the place of
    /// <paramref name="data"/>[<paramref name="at"/>..(<paramref name="at"/> + its length)]: the bytes before and after
    /// it are sealed in place, the source's are sealed into its place. The default copies the source and seals in
    /// place; a provider whose AEAD runs in parts overrides it with one pass.
    /// </summary>
    void SealFrom(ReadOnlySpan<byte> nonce, Span<byte> data, int at, ReadOnlySpan<byte> source, Span<byte> tag, ReadOnlySpan<byte> aad)
    {
        source.CopyTo(data.Slice(at, source.Length));
        Seal(nonce, data, tag, aad);
    }

    /// <summary>False when the tag does not verify (the caller sends bad_record_mac).</summary>
    bool TryOpen(ReadOnlySpan<byte> nonce, Span<byte> data, ReadOnlySpan<byte> tag, ReadOnlySpan<byte> aad);

    /// <summary>
    /// Opens <paramref name="ciphertext"/> (in the receive buffer) straight into <paramref name="plaintext"/> (where the
    /// reader takes it), one pass; false when the tag does not verify, and then <paramref name="plaintext"/> holds
    /// nothing usable. The default copies and opens in place; a provider whose AEAD takes separate input and output
    /// overrides it.
    /// </summary>
    bool TryOpenTo(ReadOnlySpan<byte> nonce, ReadOnlySpan<byte> ciphertext, ReadOnlySpan<byte> tag, ReadOnlySpan<byte> aad, Span<byte> plaintext)
    {
        ciphertext.CopyTo(plaintext);
        return TryOpen(nonce, plaintext[..ciphertext.Length], tag, aad);
    }
}

/// <summary>Creates protectors for one provider; its <see cref="Name"/> is what <see cref="TlsSessionInfo"/> reports.</summary>
public interface IRecordProtectorFactory
{
    string Name { get; }

    /// <summary>A protector for an AES-GCM key of 16 or 32 bytes (the key is copied).</summary>
    IRecordProtector Create(ReadOnlySpan<byte> key);

    /// <summary>
    /// A protector the record layer only seals with (its sending key). The default is <see cref="Create"/>; a provider
    /// that keeps state per direction may set up sealing only, and then refuse to open.
    /// </summary>
    IRecordProtector CreateSealer(ReadOnlySpan<byte> key) => Create(key);

    /// <summary>A protector the record layer only opens with (its receiving key); see <see cref="CreateSealer"/>.</summary>
    IRecordProtector CreateOpener(ReadOnlySpan<byte> key) => Create(key);
}
