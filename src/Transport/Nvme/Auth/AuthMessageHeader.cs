using System.Buffers.Binary;

namespace NvmeMptls.Transport.Nvme.Auth;

/// <summary>
/// The first six bytes every authentication message shares (kernel <c>struct nvmf_auth_dhchap_*_data</c>). Reference §5.
/// <code>
/// 0       AUTH_Type   00h common messages (Negotiate, Failure1/2), 01h DH-HMAC-CHAP messages
/// 1       AUTH_Id     message identifier (<see cref="AuthMessageId"/>)
/// 2–3     reserved
/// 4–5     T_ID        transaction identifier chosen by the host in Negotiate
/// </code>
/// </summary>
public readonly record struct AuthMessageHeader(byte Type, AuthMessageId Id, ushort TransactionId)
{
    public const int Size = 6;
    public const int TypeOffset = 0;
    public const int IdOffset = 1;
    public const int TransactionIdOffset = 4;

    public const byte CommonMessages = 0x00;
    public const byte DhChapMessages = 0x01;

    /// <summary>False when fewer than <see cref="Size"/> bytes came.</summary>
    public static bool TryRead(ReadOnlySpan<byte> data, out AuthMessageHeader header) => TryRead(data, Size, out header);

    /// <summary>False when fewer than <paramref name="minimumSize"/> bytes (the fixed part of a message) came.</summary>
    public static bool TryRead(ReadOnlySpan<byte> data, int minimumSize, out AuthMessageHeader header)
    {
        if (data.Length < Math.Max(minimumSize, Size))
        {
            header = default;
            return false;
        }
        header = new AuthMessageHeader(data[TypeOffset], (AuthMessageId)data[IdOffset],
            BinaryPrimitives.ReadUInt16LittleEndian(data[TransactionIdOffset..]));
        return true;
    }

    /// <summary>Writes the header and zeroes the reserved bytes.</summary>
    public void Write(Span<byte> data)
    {
        data[TypeOffset] = Type;
        data[IdOffset] = (byte)Id;
        data[2] = 0;
        data[3] = 0;
        BinaryPrimitives.WriteUInt16LittleEndian(data[TransactionIdOffset..], TransactionId);
    }

    /// <summary>A Failure1/Failure2: Linux has sent these with either AUTH_Type, so both are accepted.</summary>
    public bool IsFailure => Id is AuthMessageId.Failure1 or AuthMessageId.Failure2
        && Type is CommonMessages or DhChapMessages;
}

/// <summary>AUTH_Id values. Reference §5 (flow table).</summary>
public enum AuthMessageId : byte
{
    Negotiate = 0x00,
    Challenge = 0x01,
    Reply = 0x02,
    Success1 = 0x03,
    Success2 = 0x04,
    Failure2 = 0xF0,
    Failure1 = 0xF1,
}
