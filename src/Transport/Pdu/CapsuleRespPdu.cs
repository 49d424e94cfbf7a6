using NvmeMptls.Transport.Nvme;

namespace NvmeMptls.Transport.Pdu;

/// <summary>
/// CapsuleResp (type 0x05, controller → host), HLEN 24, PDO 0, PLEN 24 or 28 (header digest). Reference §1.6.
/// <code>
/// 0–7     CH
/// 8–23    CQE     the 16-byte completion
/// </code>
/// </summary>
public static class CapsuleRespPdu
{
    public const byte HeaderLength = PduCommonHeader.Size + NvmeCompletion.Size;
    public const int CqeOffset = PduCommonHeader.Size;
    public const int CommandIdFieldOffset = CqeOffset + NvmeCompletion.CidOffset;

    public static NvmeCompletion ReadCompletion(ReadOnlySpan<byte> header) => NvmeCompletion.Read(header.Slice(CqeOffset, NvmeCompletion.Size));

    public static void WriteHeader(Span<byte> header, PduFlags flags, uint plen, in NvmeCompletion completion)
    {
        new PduCommonHeader(PduType.CapsuleResp, flags, HeaderLength, 0, plen).Write(header);
        completion.Write(header.Slice(CqeOffset, NvmeCompletion.Size));
    }
}
