namespace NvmeMptls.Transport.Nvme.Auth;

/// <summary>
/// AUTH_Failure1 (AUTH_Id F1h, controller to host) and AUTH_Failure2 (F0h, host to controller). Reference §5
/// (kernel <c>struct nvmf_auth_dhchap_failure_data</c>).
/// <code>
/// 0–5     header (AUTH_Type 00h, T_ID at 4)
/// 6       reason code              01h: authentication failure
/// 7       reason code explanation  <see cref="AuthFailureReason"/>
/// </code>
/// Written with AUTH_Type 00h (common messages) as current kernels do; <see cref="AuthMessageHeader.IsFailure"/> also
/// accepts the 01h some older hosts used for Failure2.
/// </summary>
public readonly record struct FailureMessage(AuthMessageId Id, ushort TransactionId, AuthFailureReason Reason, byte ReasonCode = FailureMessage.AuthenticationFailure)
{
    public const int Size = 8;
    public const int ReasonCodeOffset = 6;
    public const int ExplanationOffset = 7;
    public const byte AuthenticationFailure = 0x01;

    public int Write(Span<byte> data)
    {
        new AuthMessageHeader(AuthMessageHeader.CommonMessages, Id, TransactionId).Write(data);
        data[ReasonCodeOffset] = ReasonCode;
        data[ExplanationOffset] = (byte)Reason;
        return Size;
    }

    public static bool TryRead(ReadOnlySpan<byte> data, out FailureMessage message)
    {
        message = default;
        if (!AuthMessageHeader.TryRead(data, Size, out var header) || !header.IsFailure)
        {
            return false;
        }
        message = new FailureMessage(header.Id, header.TransactionId, (AuthFailureReason)data[ExplanationOffset], data[ReasonCodeOffset]);
        return true;
    }
}
