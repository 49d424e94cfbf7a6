using System.Buffers.Binary;

namespace NvmeMptls.Transport.Nvme;

/// <summary>
/// Reservation Notification log page (80h, 64 bytes; NVMe Base 2.0 §5.16.1.20, Figure 264): one notice per read,
/// oldest first; reading removes it.
/// <code>
/// 07:00   log page count: the notice's sequence number (0: no notice)
/// 08      type: 0 empty, 1 registration preempted, 2 reservation released, 3 reservation preempted
/// 09      number of notices still available after this one (saturates at FFh)
/// 15:12   NSID
/// </code>
/// </summary>
public readonly record struct ReservationNotificationLog(ulong Count, byte Type, byte Remaining, uint Nsid)
{
    public const int Size = 64;
    public const byte TypeEmpty = 0;
    public const byte TypeRegistrationPreempted = 1;
    public const byte TypeReservationReleased = 2;
    public const byte TypeReservationPreempted = 3;

    /// <summary>Reservation Notification Mask (feature 83h) bit that silences each type.</summary>
    public static uint MaskBit(byte type) => 1u << type;

    public void Write(Span<byte> d)
    {
        d[..Size].Clear();
        BinaryPrimitives.WriteUInt64LittleEndian(d, Count);
        d[8] = Type;
        d[9] = Remaining;
        BinaryPrimitives.WriteUInt32LittleEndian(d[12..], Nsid);
    }

    public static ReservationNotificationLog Read(ReadOnlySpan<byte> d) =>
        new(BinaryPrimitives.ReadUInt64LittleEndian(d), d[8], d[9], BinaryPrimitives.ReadUInt32LittleEndian(d[12..]));
}
