using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using NvmeMptls.Transport.Nvme.Auth;

namespace NvmeMptls.Crypto.Auth;

/// <summary>
/// The DH-HMAC-CHAP computations (reference §5; kernel <c>nvme_auth_augmented_challenge</c>, the host's and the
/// target's response setup, <c>nvme_auth_generate_psk</c>). All outputs are hash-length bytes.
/// </summary>
public static class DhChapResponses
{
    private static readonly byte[] HostLabel = "HostHost"u8.ToArray();
    private static readonly byte[] ControllerLabel = "Controller"u8.ToArray();

    /// <summary>C' = HMAC(H(KS), C): the challenge a DH exchange binds to the session key.</summary>
    public static void AugmentChallenge(DhChapHashId hash, ReadOnlySpan<byte> sessionKey, ReadOnlySpan<byte> challenge, Span<byte> destination)
    {
        Span<byte> hashedKey = stackalloc byte[DhChapHashes.MaxLength];
        hashedKey = hashedKey[..DhChapHashes.Length(hash)];
        DhChapHashes.Hash(hash, sessionKey, hashedKey);
        DhChapHashes.Hmac(hash, hashedKey, challenge, destination);
        CryptographicOperations.ZeroMemory(hashedKey);
    }

    /// <summary>
    /// R1 = HMAC(K'h, C1 || u32le(S1) || u16le(T_ID) || u8(SC_C) || "HostHost" || NQNh || 00h || NQNc), with
    /// C1 already augmented when a DH group is in use.
    /// </summary>
    public static void HostResponse(DhChapHashId hash, ReadOnlySpan<byte> hostKey, ReadOnlySpan<byte> challenge, uint sequence,
        ushort transactionId, byte secureChannel, string hostNqn, string subsystemNqn, Span<byte> destination) =>
        Compute(hash, hostKey, challenge, sequence, transactionId, secureChannel, HostLabel, hostNqn, subsystemNqn, destination);

    /// <summary>
    /// R2 = HMAC(K'c, C2 || u32le(S2) || u16le(T_ID) || 00h || "Controller" || NQNc || 00h || NQNh), with C2 already
    /// augmented when a DH group is in use.
    /// </summary>
    public static void ControllerResponse(DhChapHashId hash, ReadOnlySpan<byte> controllerKey, ReadOnlySpan<byte> challenge, uint sequence,
        ushort transactionId, string hostNqn, string subsystemNqn, Span<byte> destination) =>
        Compute(hash, controllerKey, challenge, sequence, transactionId, 0, ControllerLabel, subsystemNqn, hostNqn, destination);

    /// <summary>Generated PSK for secure channel concatenation: HMAC(KS, C1 || C2).</summary>
    public static void GeneratedPsk(DhChapHashId hash, ReadOnlySpan<byte> sessionKey, ReadOnlySpan<byte> challenge1,
        ReadOnlySpan<byte> challenge2, Span<byte> destination)
    {
        using var hmac = IncrementalHash.CreateHMAC(DhChapHashes.AlgorithmName(hash), sessionKey);
        hmac.AppendData(challenge1);
        hmac.AppendData(challenge2);
        hmac.GetHashAndReset(destination);
    }

    private static void Compute(DhChapHashId hash, ReadOnlySpan<byte> key, ReadOnlySpan<byte> challenge, uint sequence,
        ushort transactionId, byte secureChannel, byte[] label, string firstNqn, string secondNqn, Span<byte> destination)
    {
        using var hmac = IncrementalHash.CreateHMAC(DhChapHashes.AlgorithmName(hash), key);
        Span<byte> fields = stackalloc byte[7];
        BinaryPrimitives.WriteUInt32LittleEndian(fields, sequence);
        BinaryPrimitives.WriteUInt16LittleEndian(fields[4..], transactionId);
        fields[6] = secureChannel;
        hmac.AppendData(challenge);
        hmac.AppendData(fields);
        hmac.AppendData(label);
        hmac.AppendData(Encoding.UTF8.GetBytes(firstNqn));
        hmac.AppendData([0]);
        hmac.AppendData(Encoding.UTF8.GetBytes(secondNqn));
        hmac.GetHashAndReset(destination);
    }
}
