using System.Buffers.Binary;

namespace NvmeMptls.Transport.Nvme.Auth;

/// <summary>
/// DH-HMAC-CHAP_Reply (AUTH_Type 01h, AUTH_Id 02h), host to controller. Reference §5 (kernel
/// <c>struct nvmf_auth_dhchap_reply_data</c>).
/// <code>
/// 0–5     header (T_ID at 4)
/// 6       HL      hash length
/// 7       reserved
/// 8       CVALID  1: C2 is valid, the host wants the controller to prove itself
/// 9       reserved
/// 10–11   DHVLEN  length of the host's DH public value
/// 12–15   SEQNUM  S2 (0 when not bidirectional)
/// 16      R1 (HL bytes), C2 (HL bytes, zero when CVALID is 0), then the DH value (DHVLEN bytes)
/// </code>
/// </summary>
public sealed record ReplyMessage(ushort TransactionId, uint Sequence, ReadOnlyMemory<byte> Response, bool ChallengeValid,
    ReadOnlyMemory<byte> Challenge, ReadOnlyMemory<byte> DhValue)
{
    public const int HeaderSize = 16;
    public const int HashLengthOffset = 6;
    public const int ChallengeValidOffset = 8;
    public const int DhValueLengthOffset = 10;
    public const int SequenceOffset = 12;

    public int HashLength => Response.Length;

    public int Size => HeaderSize + (2 * HashLength) + DhValue.Length;

    public int Write(Span<byte> data)
    {
        if (ChallengeValid && Challenge.Length != HashLength)
        {
            throw new InvalidOperationException("C2 must be as long as R1");
        }
        data[..Size].Clear();
        new AuthMessageHeader(AuthMessageHeader.DhChapMessages, AuthMessageId.Reply, TransactionId).Write(data);
        data[HashLengthOffset] = (byte)HashLength;
        data[ChallengeValidOffset] = ChallengeValid ? (byte)1 : (byte)0;
        BinaryPrimitives.WriteUInt16LittleEndian(data[DhValueLengthOffset..], (ushort)DhValue.Length);
        BinaryPrimitives.WriteUInt32LittleEndian(data[SequenceOffset..], Sequence);
        Response.Span.CopyTo(data[HeaderSize..]);
        if (ChallengeValid)
        {
            Challenge.Span.CopyTo(data[(HeaderSize + HashLength)..]);
        }
        DhValue.Span.CopyTo(data[(HeaderSize + (2 * HashLength))..]);
        return Size;
    }

    /// <summary>False when the data is shorter than its header or than 2·HL + DHVLEN say (kernel: incorrect payload).</summary>
    public static bool TryRead(ReadOnlySpan<byte> data, out ReplyMessage? message)
    {
        message = null;
        if (!AuthMessageHeader.TryRead(data, HeaderSize, out var header))
        {
            return false;
        }
        int hl = data[HashLengthOffset];
        int dhvlen = BinaryPrimitives.ReadUInt16LittleEndian(data[DhValueLengthOffset..]);
        if (data.Length < HeaderSize + (2 * hl) + dhvlen)
        {
            return false;
        }
        message = new ReplyMessage(header.TransactionId, BinaryPrimitives.ReadUInt32LittleEndian(data[SequenceOffset..]),
            data.Slice(HeaderSize, hl).ToArray(), data[ChallengeValidOffset] != 0, data.Slice(HeaderSize + hl, hl).ToArray(),
            data.Slice(HeaderSize + (2 * hl), dhvlen).ToArray());
        return true;
    }
}
