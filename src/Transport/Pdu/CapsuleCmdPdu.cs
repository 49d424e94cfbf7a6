using NvmeMptls.Transport.Nvme;

namespace NvmeMptls.Transport.Pdu;

/// <summary>
/// CapsuleCmd (type 0x04, host → controller), HLEN 72. Reference §1.6.
/// <code>
/// 0–7     CH      PDO = 0 without in-capsule data, else HLEN + HDGST (+PAD)
/// 8–71    SQE     the 64-byte command
/// 72…     [HDGST] [PAD] [in-capsule data] [DDGST, only with data]
/// </code>
/// </summary>
public static class CapsuleCmdPdu
{
    public const byte HeaderLength = PduCommonHeader.Size + NvmeCommand.Size;
    public const int SqeOffset = PduCommonHeader.Size;

    public static NvmeCommand ReadCommand(ReadOnlySpan<byte> header) => NvmeCommand.Read(header.Slice(SqeOffset, NvmeCommand.Size));

    public static void WriteHeader(Span<byte> header, PduFlags flags, byte pdo, uint plen, in NvmeCommand command)
    {
        new PduCommonHeader(PduType.CapsuleCmd, flags, HeaderLength, pdo, plen).Write(header);
        command.Write(header.Slice(SqeOffset, NvmeCommand.Size));
    }
}
