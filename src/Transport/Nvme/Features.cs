namespace NvmeMptls.Transport.Nvme;

/// <summary>
/// Set Features (09h) / Get Features (0Ah) fields and the feature values target and host both encode. Reference §3.8.
/// <code>
/// CDW10   bits 7:0 FID; Set: bit 31 SV (save); Get: bits 10:8 SEL (0 current, 1 default, 2 saved, 3 supported capabilities)
/// CDW11   the feature value (Set) or feature-specific input (Get); the completion's DW0 returns the value
/// </code>
/// Feature values (NVMe Base 2.0, Set Features, one subsection per feature):
/// <code>
/// 01h Arbitration          bits 2:0 AB (burst, 2^n; 111b no limit), 15:8 LPW, 23:16 MPW, 31:24 HPW (0's based weights)
/// 02h Power Management     bits 4:0 PS (power state), 7:5 WH (workload hint)
/// 04h Temperature Thresh.  bits 15:0 TMPTH (Kelvin), 19:16 TMPSEL (0 composite, 1-8 sensor, 1111b all: Set only), 21:20 THSEL (0 over, 1 under)
/// 05h Error Recovery       bits 15:0 TLER (100 ms units, 0 = no limit), bit 16 DULBE; namespace specific
/// 0Ah Write Atomicity      bit 0 DN (disable normal)
/// </code>
/// </summary>
public static class Features
{
    public const uint SaveBit = 1u << 31;
    public const byte SelectCurrent = 0;
    public const byte SelectDefault = 1;
    public const byte SelectSaved = 2;
    public const byte SelectSupportedCapabilities = 3;

    /// <summary>SEL 3 answer: bit 0 saveable, bit 1 namespace specific, bit 2 changeable.</summary>
    public const uint CapabilitySaveable = 1u << 0;
    public const uint CapabilityNamespaceSpecific = 1u << 1;
    public const uint CapabilityChangeable = 1u << 2;

    public const uint ArbitrationBurstNoLimit = 0x7;
    public const uint ArbitrationReservedMask = 0xF8;
    public const uint PowerStateMask = 0x1F;
    public const uint PowerManagementMask = 0xFF;
    public const uint ErrorRecoveryTlerMask = 0xFFFF;
    public const uint ErrorRecoveryDulbe = 1u << 16;
    public const uint WriteAtomicityDisableNormal = 1;

    public const byte TemperatureSensorComposite = 0;
    public const byte TemperatureSensorMax = 8;
    public const byte TemperatureSensorAll = 0xF;
    public const byte ThresholdOver = 0;
    public const byte ThresholdUnder = 1;

    public static NvmeCommand Set(byte featureId, uint value, uint nsid = 0) => new()
    {
        Opcode = AdminOpcodes.SetFeatures,
        Nsid = nsid,
        Cdw10 = featureId,
        Cdw11 = value,
    };

    public static NvmeCommand Get(byte featureId, uint cdw11, uint nsid = 0, byte select = SelectCurrent) => new()
    {
        Opcode = AdminOpcodes.GetFeatures,
        Nsid = nsid,
        Cdw10 = featureId | ((uint)select << 8),
        Cdw11 = cdw11,
    };

    public static byte FeatureIdOf(in NvmeCommand command) => (byte)command.Cdw10;

    public static bool SaveOf(in NvmeCommand command) => (command.Cdw10 & SaveBit) != 0;

    public static byte SelectOf(in NvmeCommand command) => (byte)((command.Cdw10 >> 8) & 7);

    /// <summary>Number of Queues (FID 07h) in CDW11 and DW0: bits 15:0 submission, 31:16 completion queues, both 0's based.</summary>
    public static uint EncodeQueueCount(int submissionQueues, int completionQueues) =>
        (uint)(submissionQueues - 1) | ((uint)(completionQueues - 1) << 16);

    /// <summary>The queue counts (1's based) of a Number of Queues value; FFFFh (0's based) is reserved and reads as 65536.</summary>
    public static (int SubmissionQueues, int CompletionQueues) DecodeQueueCount(uint value) =>
        ((int)(value & 0xFFFF) + 1, (int)(value >> 16) + 1);

    /// <summary>Temperature Threshold (FID 04h) CDW11 / DW0.</summary>
    public static uint EncodeTemperatureThreshold(ushort kelvin, byte sensor, byte thresholdType) =>
        kelvin | ((uint)(sensor & 0xF) << 16) | ((uint)(thresholdType & 0x3) << 20);

    public static (ushort Kelvin, byte Sensor, byte ThresholdType) DecodeTemperatureThreshold(uint value) =>
        ((ushort)value, (byte)((value >> 16) & 0xF), (byte)((value >> 20) & 0x3));
}
