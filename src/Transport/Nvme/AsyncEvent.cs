namespace NvmeMptls.Transport.Nvme;

/// <summary>
/// Asynchronous events (admin opcode 0Ch): the completion's DW0 and the Set Features 0Bh (Asynchronous Event
/// Configuration) bits. Reference §2.7.
/// <code>
/// DW0     bits 2:0 event type, bits 15:8 event information, bits 23:16 log page to read
/// </code>
/// </summary>
public readonly record struct AsyncEvent(byte Type, byte Info, byte LogPage)
{
    public const byte TypeError = 0;
    public const byte TypeSmart = 1;
    public const byte TypeNotice = 2;
    public const byte TypeIoCommandSet = 6;

    /// <summary>Type 6 information 00h: a Reservation Notification log page (80h) is available.</summary>
    public const byte InfoReservationLogAvailable = 0x00;

    public const byte InfoNamespaceAttributeChanged = 0x00;
    public const byte InfoAnaChange = 0x03;
    public const byte InfoDiscoveryLogChanged = 0xF0;

    /// <summary>Asynchronous Event Configuration bit 8: Namespace Attribute notices.</summary>
    public const uint ConfigNamespaceAttribute = 1u << 8;

    /// <summary>Asynchronous Event Configuration bit 11 (and OAES bit 11): Asymmetric Namespace Access Change notices.</summary>
    public const uint ConfigAnaChange = 1u << 11;

    /// <summary>Asynchronous Event Configuration bit 31: Discovery Log Page Change notices.</summary>
    public const uint ConfigDiscoveryLogChange = 1u << 31;

    /// <summary>Asynchronous Event Configuration bits 7:0: SMART / health critical warnings.</summary>
    public const uint ConfigSmartWarnings = 0xFF;

    public static AsyncEvent NamespaceAttributeChanged => new(TypeNotice, InfoNamespaceAttributeChanged, LogPageIds.ChangedNamespaceList);

    /// <summary>Notice 03h: an ANA group's state changed on this controller's port; read log 0Ch (NVMe Base 2.0 §5.2, Figure 150).</summary>
    public static AsyncEvent AnaChange => new(TypeNotice, InfoAnaChange, LogPageIds.AsymmetricNamespaceAccess);

    public static AsyncEvent ReservationLogAvailable => new(TypeIoCommandSet, InfoReservationLogAvailable, LogPageIds.ReservationNotification);

    public static AsyncEvent DiscoveryLogChanged => new(TypeNotice, InfoDiscoveryLogChanged, LogPageIds.Discovery);

    public uint ToDw0() => (uint)(Type & 7) | ((uint)Info << 8) | ((uint)LogPage << 16);

    public static AsyncEvent FromDw0(uint dw0) => new((byte)(dw0 & 7), (byte)(dw0 >> 8), (byte)(dw0 >> 16));
}
