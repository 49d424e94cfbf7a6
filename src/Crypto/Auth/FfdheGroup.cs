using System.Numerics;
using System.Security.Cryptography;
using NvmeMptls.Transport.Nvme.Auth;
using Org.BouncyCastle.Crypto.Agreement;

namespace NvmeMptls.Crypto.Auth;

/// <summary>
/// An RFC 7919 finite-field Diffie-Hellman group (generator 2) as DH-HMAC-CHAP uses it (reference §5): public
/// values and the shared secret are big-endian and padded to the size of the prime, as the kernel's kpp writes them.
/// .NET has no FFDHE API; the primes come from BouncyCastle's table and the arithmetic is <see cref="BigInteger.ModPow"/>.
/// </summary>
public sealed class FfdheGroup
{
    private static readonly FfdheGroup[] Groups =
    [
        new(DhChapGroupId.Ffdhe2048, DHStandardGroups.rfc7919_ffdhe2048.P.ToByteArrayUnsigned(), 225),
        new(DhChapGroupId.Ffdhe3072, DHStandardGroups.rfc7919_ffdhe3072.P.ToByteArrayUnsigned(), 275),
        new(DhChapGroupId.Ffdhe4096, DHStandardGroups.rfc7919_ffdhe4096.P.ToByteArrayUnsigned(), 325),
        new(DhChapGroupId.Ffdhe6144, DHStandardGroups.rfc7919_ffdhe6144.P.ToByteArrayUnsigned(), 375),
        new(DhChapGroupId.Ffdhe8192, DHStandardGroups.rfc7919_ffdhe8192.P.ToByteArrayUnsigned(), 400),
    ];

    private readonly byte[] _prime;

    private FfdheGroup(DhChapGroupId id, byte[] prime, int exponentBits)
    {
        Id = id;
        _prime = prime;
        Prime = new BigInteger(prime, isUnsigned: true, isBigEndian: true);
        ExponentBits = exponentBits;
    }

    public DhChapGroupId Id { get; }

    /// <summary>Bytes of the prime, of a public value and of the shared secret (DHVLEN).</summary>
    public int Size => _prime.Length;

    /// <summary>Size of the private exponent: RFC 7919 Appendix A's short-exponent minimum for the group.</summary>
    public int ExponentBits { get; }

    public ReadOnlySpan<byte> PrimeBytes => _prime;

    internal BigInteger Prime { get; }

    /// <summary>The group for an id; null for <see cref="DhChapGroupId.Null"/>; throws for an undefined id.</summary>
    public static FfdheGroup? For(DhChapGroupId id) => id switch
    {
        DhChapGroupId.Null => null,
        >= DhChapGroupId.Ffdhe2048 and <= DhChapGroupId.Ffdhe8192 => Groups[(int)id - 1],
        _ => throw new ArgumentOutOfRangeException(nameof(id), id, "DH groups are 0 (null) and 1–5 (ffdhe2048–8192)"),
    };

    /// <summary>An ephemeral key pair with a fresh random exponent of <see cref="ExponentBits"/> bits.</summary>
    public FfdheKeyPair CreateKeyPair()
    {
        var exponent = new byte[(ExponentBits + 7) / 8];
        RandomNumberGenerator.Fill(exponent);
        int spare = (exponent.Length * 8) - ExponentBits;
        exponent[0] = (byte)((exponent[0] & (0xFF >> spare)) | (0x80 >> spare));
        return new FfdheKeyPair(this, exponent);
    }

    /// <summary>A key pair with a given big-endian private exponent (known-answer tests, reproducible traces).</summary>
    public FfdheKeyPair CreateKeyPair(ReadOnlySpan<byte> privateExponent)
    {
        if (privateExponent.IsEmpty || privateExponent.Length > Size)
        {
            throw new ArgumentException($"an exponent for {DhChapNames.Of(Id)} is 1 to {Size} bytes", nameof(privateExponent));
        }
        return new FfdheKeyPair(this, privateExponent.ToArray());
    }

    internal void WritePadded(BigInteger value, Span<byte> destination)
    {
        destination.Clear();
        int length = value.GetByteCount(isUnsigned: true);
        value.TryWriteBytes(destination[(Size - length)..], out _, isUnsigned: true, isBigEndian: true);
    }
}

/// <summary>One side's ephemeral DH key pair. The exponent is zeroed on dispose.</summary>
public sealed class FfdheKeyPair : IDisposable
{
    private readonly FfdheGroup _group;
    private readonly byte[] _exponent;
    private readonly byte[] _public;

    internal FfdheKeyPair(FfdheGroup group, byte[] exponent)
    {
        _group = group;
        _exponent = exponent;
        _public = new byte[group.Size];
        var x = new BigInteger(exponent, isUnsigned: true, isBigEndian: true);
        group.WritePadded(BigInteger.ModPow(2, x, group.Prime), _public);
    }

    public FfdheGroup Group => _group;

    /// <summary>g^x mod p, big-endian, <see cref="FfdheGroup.Size"/> bytes.</summary>
    public ReadOnlySpan<byte> PublicValue => _public;

    /// <summary>
    /// The session key KS = peer^x mod p into <paramref name="sessionKey"/> (group size). False when the peer's value
    /// has the wrong length or is not in 2..p−2 (RFC 7919 §5.1: peers MUST check this), which would pin KS to a
    /// trivial value.
    /// </summary>
    public bool TryDeriveSessionKey(ReadOnlySpan<byte> peerPublic, Span<byte> sessionKey)
    {
        if (peerPublic.Length != _group.Size || sessionKey.Length != _group.Size)
        {
            return false;
        }
        var y = new BigInteger(peerPublic, isUnsigned: true, isBigEndian: true);
        // RFC 7919 §5.1: 1 < y < p - 1.
        if (y <= BigInteger.One || y >= _group.Prime - BigInteger.One)
        {
            return false;
        }
        var x = new BigInteger(_exponent, isUnsigned: true, isBigEndian: true);
        _group.WritePadded(BigInteger.ModPow(y, x, _group.Prime), sessionKey);
        return true;
    }

    public void Dispose() => CryptographicOperations.ZeroMemory(_exponent);
}
