namespace NvmeMptls.Transport.Nvme.Auth;

/// <summary>
/// DH-HMAC-CHAP_Success1 (AUTH_Type 01h, AUTH_Id 03h), controller to host: the host is authenticated; with RVALID the
/// controller's response R2 follows. Reference §5 (kernel <c>struct nvmf_auth_dhchap_success1_data</c>).
/// <code>
/// 0–5     header (T_ID at 4)
/// 6       HL      hash length
/// 7       reserved
/// 8       RVALID  1: R2 is valid
/// 9–15    reserved
/// 16      R2      HL bytes (zero when RVALID is 0)
/// </code>
/// </summary>
public sealed record Success1Message(ushort TransactionId, int HashLength, ReadOnlyMemory<byte> Response)
{
    public const int HeaderSize = 16;
    public const int HashLengthOffset = 6;
    public const int ResponseValidOffset = 8;

    public bool ResponseValid => !Response.IsEmpty;

    public int Size => HeaderSize + HashLength;

    public int Write(Span<byte> data)
    {
        if (ResponseValid && Response.Length != HashLength)
        {
            throw new InvalidOperationException("R2 must be HL bytes");
        }
        data[..Size].Clear();
        new AuthMessageHeader(AuthMessageHeader.DhChapMessages, AuthMessageId.Success1, TransactionId).Write(data);
        data[HashLengthOffset] = (byte)HashLength;
        data[ResponseValidOffset] = ResponseValid ? (byte)1 : (byte)0;
        Response.Span.CopyTo(data[HeaderSize..]);
        return Size;
    }

    /// <summary>False when the data is shorter than the header, or than HL when RVALID is set.</summary>
    public static bool TryRead(ReadOnlySpan<byte> data, out Success1Message? message)
    {
        message = null;
        if (!AuthMessageHeader.TryRead(data, HeaderSize, out var header))
        {
            return false;
        }
        int hl = data[HashLengthOffset];
        bool valid = data[ResponseValidOffset] != 0;
        if (valid && data.Length < HeaderSize + hl)
        {
            return false;
        }
        message = new Success1Message(header.TransactionId, hl, valid ? data.Slice(HeaderSize, hl).ToArray() : ReadOnlyMemory<byte>.Empty);
        return true;
    }
}
