namespace NvmeMptls.Transport.Nvme.Auth;

/// <summary>
/// DH-HMAC-CHAP_Success2 (AUTH_Type 01h, AUTH_Id 04h), host to controller: the controller's R2 verified
/// (bidirectional authentication only). Reference §5 (kernel <c>struct nvmf_auth_dhchap_success2_data</c>).
/// <code>
/// 0–5     header (T_ID at 4)
/// 6–15    reserved
/// </code>
/// </summary>
public readonly record struct Success2Message(ushort TransactionId)
{
    public const int Size = 16;

    public int Write(Span<byte> data)
    {
        data[..Size].Clear();
        new AuthMessageHeader(AuthMessageHeader.DhChapMessages, AuthMessageId.Success2, TransactionId).Write(data);
        return Size;
    }
}
