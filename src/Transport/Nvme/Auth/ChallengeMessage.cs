using System.Buffers.Binary;

namespace NvmeMptls.Transport.Nvme.Auth;

/// <summary>
/// DH-HMAC-CHAP_Challenge (AUTH_Type 01h, AUTH_Id 01h), controller to host. Reference §5 (kernel
/// <c>struct nvmf_auth_dhchap_challenge_data</c>).
/// <code>
/// 0–5     header (T_ID at 4)
/// 6       HL      hash length
/// 7       reserved
/// 8       HASHID  selected hash
/// 9       DHGID   selected DH group (0 = none)
/// 10–11   DHVLEN  length of the controller's DH public value
/// 12–15   SEQNUM  S1
/// 16      C1      HL bytes, then the DH value (DHVLEN bytes)
/// </code>
/// </summary>
public sealed record ChallengeMessage(ushort TransactionId, DhChapHashId Hash, DhChapGroupId Group, uint Sequence,
    ReadOnlyMemory<byte> Challenge, ReadOnlyMemory<byte> DhValue)
{
    public const int HeaderSize = 16;
    public const int HashLengthOffset = 6;
    public const int HashIdOffset = 8;
    public const int GroupIdOffset = 9;
    public const int DhValueLengthOffset = 10;
    public const int SequenceOffset = 12;

    public int Size => HeaderSize + Challenge.Length + DhValue.Length;

    public int Write(Span<byte> data)
    {
        data[..HeaderSize].Clear();
        new AuthMessageHeader(AuthMessageHeader.DhChapMessages, AuthMessageId.Challenge, TransactionId).Write(data);
        data[HashLengthOffset] = (byte)Challenge.Length;
        data[HashIdOffset] = (byte)Hash;
        data[GroupIdOffset] = (byte)Group;
        BinaryPrimitives.WriteUInt16LittleEndian(data[DhValueLengthOffset..], (ushort)DhValue.Length);
        BinaryPrimitives.WriteUInt32LittleEndian(data[SequenceOffset..], Sequence);
        Challenge.Span.CopyTo(data[HeaderSize..]);
        DhValue.Span.CopyTo(data[(HeaderSize + Challenge.Length)..]);
        return Size;
    }

    /// <summary>False when the data is shorter than its header or than HL + DHVLEN say.</summary>
    public static bool TryRead(ReadOnlySpan<byte> data, out ChallengeMessage? message)
    {
        message = null;
        if (!AuthMessageHeader.TryRead(data, HeaderSize, out var header))
        {
            return false;
        }
        int hl = data[HashLengthOffset];
        int dhvlen = BinaryPrimitives.ReadUInt16LittleEndian(data[DhValueLengthOffset..]);
        if (data.Length < HeaderSize + hl + dhvlen)
        {
            return false;
        }
        message = new ChallengeMessage(header.TransactionId, (DhChapHashId)data[HashIdOffset], (DhChapGroupId)data[GroupIdOffset],
            BinaryPrimitives.ReadUInt32LittleEndian(data[SequenceOffset..]),
            data.Slice(HeaderSize, hl).ToArray(), data.Slice(HeaderSize + hl, dhvlen).ToArray());
        return true;
    }
}
