namespace NvmeMptls.Transport.Nvme;

/// <summary>
/// An NVMe completion status in the Linux kernel's form: bits 7:0 SC, 10:8 SCT, 12:11 CRD, 13 MORE, 14 DNR.
/// The CQE carries it shifted left by one (bit 0 is the phase tag, reserved on fabrics). Reference §2.1, §3.10.
/// </summary>
public readonly record struct NvmeStatus(ushort Value)
{
    public const ushort DnrBit = 0x4000;
    public const ushort MoreBit = 0x2000;
    public const ushort CrdMask = 0x1800;

    /// <summary>SCT and SC together (bits 10:0): the form of <see cref="NvmeStatusCodes"/>.</summary>
    public const ushort CodeMask = 0x07FF;

    public static NvmeStatus Success => default;

    /// <summary>SC, bits 7:0.</summary>
    public byte StatusCode => (byte)Value;

    /// <summary>SCT, bits 10:8 (0 generic, 1 command specific, 2 media and data integrity, 3 path related).</summary>
    public byte StatusCodeType => (byte)((Value >> 8) & 0x7);

    /// <summary>SCT and SC without CRD, More and DNR: compare with <see cref="NvmeStatusCodes"/>.</summary>
    public ushort Code => (ushort)(Value & CodeMask);

    /// <summary>Command Retry Delay index, bits 12:11 (0: retry at once).</summary>
    public byte RetryDelay => (byte)((Value & CrdMask) >> 11);

    /// <summary>M: more status information is in the Error Information log page.</summary>
    public bool More => (Value & MoreBit) != 0;

    public bool DoNotRetry => (Value & DnrBit) != 0;
    public bool IsSuccess => Code == 0;

    /// <summary>True when SCT and SC equal <paramref name="code"/> (one of <see cref="NvmeStatusCodes"/>), whatever DNR/More/CRD say.</summary>
    public bool Is(ushort code) => Code == code;

    public NvmeStatus WithDnr() => new((ushort)(Value | DnrBit));

    /// <summary>The 16-bit CQE status field (bytes 14–15).</summary>
    public ushort ToCqeField() => (ushort)(Value << 1);

    public static NvmeStatus FromCqeField(ushort field) => new((ushort)(field >> 1));

    public static NvmeStatus Make(byte sct, byte sc, bool dnr = false) =>
        new((ushort)((sct << 8) | sc | (dnr ? DnrBit : 0)));

    public override string ToString() =>
        $"SCT {StatusCodeType:x} SC 0x{StatusCode:x2}{(DoNotRetry ? " DNR" : "")} ({NvmeStatusCodes.Describe(this)})";
}

/// <summary>Status codes (kernel form, without DNR) used by target and initiator. Reference §3.10.</summary>
public static class NvmeStatusCodes
{
    // SCT 0: generic
    public const ushort InvalidOpcode = 0x001;
    public const ushort InvalidField = 0x002;
    public const ushort CommandIdConflict = 0x003;
    public const ushort DataTransferError = 0x004;
    public const ushort InternalError = 0x006;
    public const ushort AbortRequested = 0x007;
    public const ushort AbortSqDeleted = 0x008;
    public const ushort InvalidNamespace = 0x00B;
    public const ushort CommandSequenceError = 0x00C;
    public const ushort SglInvalidLastSegment = 0x00D;
    public const ushort SglInvalidCount = 0x00E;
    public const ushort SglInvalidDataLength = 0x00F;
    public const ushort SglInvalidType = 0x011;
    public const ushort SglInvalidOffset = 0x016;
    public const ushort HostIdInconsistent = 0x018;
    public const ushort KeepAliveExpired = 0x019;
    public const ushort KeepAliveInvalid = 0x01A;
    public const ushort CommandAbortedPreemptAndAbort = 0x01B;
    public const ushort NamespaceWriteProtected = 0x020;
    public const ushort CommandInterrupted = 0x021;
    public const ushort TransientTransportError = 0x022;
    public const ushort LbaOutOfRange = 0x080;
    public const ushort CapacityExceeded = 0x081;
    public const ushort NamespaceNotReady = 0x082;
    public const ushort ReservationConflict = 0x083;

    // SCT 1: command specific
    public const ushort InvalidQueueId = 0x101;
    public const ushort InvalidQueueSize = 0x102;
    public const ushort AsyncEventLimitExceeded = 0x105;
    public const ushort InvalidLogPage = 0x109;
    public const ushort FeatureNotSaveable = 0x10D;
    public const ushort FeatureNotChangeable = 0x10E;
    public const ushort ConnectIncompatibleFormat = 0x180;
    public const ushort ConnectControllerBusy = 0x181;
    public const ushort ConnectInvalidParameters = 0x182;
    public const ushort ConnectRestartDiscovery = 0x183;
    public const ushort ConnectInvalidHost = 0x184;
    public const ushort AuthenticationRequired = 0x191;

    // SCT 2: media and data integrity
    public const ushort WriteFault = 0x280;
    public const ushort UnrecoveredReadError = 0x281;
    public const ushort CompareFailure = 0x285;
    public const ushort AccessDenied = 0x286;

    // SCT 3: path related
    public const ushort InternalPathError = 0x300;
    public const ushort AnaPersistentLoss = 0x301;
    public const ushort AnaInaccessible = 0x302;
    public const ushort AnaTransition = 0x303;
    public const ushort ControllerPathingError = 0x360;
    public const ushort HostPathingError = 0x370;
    public const ushort AbortedByHost = 0x371;

    /// <summary>SCT 3h: the command failed on this path and may succeed on another (NVMe Base 2.0 §3.3.3.2.4).</summary>
    public static bool IsPathRelated(NvmeStatus status) => status.StatusCodeType == 3;

    /// <summary>SCT 3h SC 01h–03h: the path's ANA state refused the command; the host should re-read log 0Ch.</summary>
    public static bool IsAnaError(NvmeStatus status) => status.Code is AnaPersistentLoss or AnaInaccessible or AnaTransition;

    public static string Describe(NvmeStatus status) => status.Code switch
    {
        0 => "Success",
        InvalidOpcode => "Invalid Command Opcode",
        InvalidField => "Invalid Field in Command",
        CommandIdConflict => "Command ID Conflict",
        DataTransferError => "Data Transfer Error",
        InternalError => "Internal Error",
        AbortRequested => "Command Abort Requested",
        AbortSqDeleted => "Command Aborted due to SQ Deletion",
        InvalidNamespace => "Invalid Namespace or Format",
        CommandSequenceError => "Command Sequence Error",
        SglInvalidDataLength => "Data SGL Length Invalid",
        SglInvalidType => "SGL Descriptor Type Invalid",
        SglInvalidOffset => "SGL Offset Invalid",
        KeepAliveExpired => "Keep Alive Timer Expired",
        KeepAliveInvalid => "Keep Alive Timeout Invalid",
        CommandAbortedPreemptAndAbort => "Command Aborted due to Preempt and Abort",
        CommandInterrupted => "Command Interrupted",
        TransientTransportError => "Transient Transport Error",
        LbaOutOfRange => "LBA Out of Range",
        CapacityExceeded => "Capacity Exceeded",
        NamespaceNotReady => "Namespace Not Ready",
        ReservationConflict => "Reservation Conflict",
        HostIdInconsistent => "Host Identifier Inconsistent Format",
        InvalidQueueId => "Invalid Queue Identifier",
        InvalidQueueSize => "Invalid Queue Size",
        AsyncEventLimitExceeded => "Asynchronous Event Request Limit Exceeded",
        InvalidLogPage => "Invalid Log Page",
        FeatureNotSaveable => "Feature Identifier Not Saveable",
        FeatureNotChangeable => "Feature Not Changeable",
        ConnectIncompatibleFormat => "Connect Incompatible Format",
        ConnectControllerBusy => "Connect Controller Busy",
        ConnectInvalidParameters => "Connect Invalid Parameters",
        ConnectRestartDiscovery => "Connect Restart Discovery",
        ConnectInvalidHost => "Connect Invalid Host",
        AuthenticationRequired => "Authentication Required",
        WriteFault => "Write Fault",
        UnrecoveredReadError => "Unrecovered Read Error",
        CompareFailure => "Compare Failure",
        AccessDenied => "Access Denied",
        InternalPathError => "Internal Path Error",
        AnaPersistentLoss => "Asymmetric Access Persistent Loss",
        AnaInaccessible => "Asymmetric Access Inaccessible",
        AnaTransition => "Asymmetric Access Transition",
        ControllerPathingError => "Controller Pathing Error",
        HostPathingError => "Host Pathing Error",
        AbortedByHost => "Command Aborted By Host",
        _ => "Unknown status",
    };
}

/// <summary>A command completed with a non-success NVMe status.</summary>
public sealed class NvmeStatusException : Exception
{
    public NvmeStatusException(NvmeStatus status, string? context = null)
        : base(context is null ? $"NVMe status {status}" : $"{context}: NVMe status {status}")
    {
        Status = status;
    }

    public NvmeStatus Status { get; }
}
