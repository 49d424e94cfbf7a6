namespace NvmeMptls.Transport.Nvme;

/// <summary>Reservation types (RTYPE), NVMe Base 2.0 §8.19.1, Figure 420 (values 0 and 07h–FFh are reserved).</summary>
public enum ReservationType : byte
{
    None = 0,
    WriteExclusive = 1,
    ExclusiveAccess = 2,
    WriteExclusiveRegistrantsOnly = 3,
    ExclusiveAccessRegistrantsOnly = 4,
    WriteExclusiveAllRegistrants = 5,
    ExclusiveAccessAllRegistrants = 6,
}

/// <summary>What each reservation type allows (NVMe Base 2.0 §8.19.1, Figure 421).</summary>
public static class ReservationTypes
{
    public static bool IsDefined(byte value) => value is >= 1 and <= 6;

    /// <summary>All Registrants types: every registrant is a holder; the reservation lasts while any registrant does.</summary>
    public static bool AllRegistrantsHold(ReservationType type) => type is ReservationType.WriteExclusiveAllRegistrants or ReservationType.ExclusiveAccessAllRegistrants;

    /// <summary>Registrants Only and All Registrants types: registrants have the access a holder has.</summary>
    public static bool RegistrantsHaveAccess(ReservationType type) => type >= ReservationType.WriteExclusiveRegistrantsOnly;

    /// <summary>Exclusive Access types also refuse reads to those without access.</summary>
    public static bool ExclusiveAccess(ReservationType type) => type is ReservationType.ExclusiveAccess or ReservationType.ExclusiveAccessRegistrantsOnly or ReservationType.ExclusiveAccessAllRegistrants;

    /// <summary>RESCAP (Identify Namespace byte 31): PTPL, the six types, and IEKEY honoured for every command (bit 7).</summary>
    public const byte CapabilitiesAll = 0xFF;
}
