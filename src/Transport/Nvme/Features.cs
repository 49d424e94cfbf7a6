namespace NvmeMptls.Transport.Nvme;

/// <summary>
/// Set Features (09h) / Get Features (0Ah) fields and the feature values target and host both encode. Reference §3.8.
/// <code>
/// CDW10   bits 7:0 FID; Set: bit 31 SV (save); Get: bits 10:8 SEL (0 current, 1 default, 2 saved, 3 supported capabilities)
/// CDW11   the feature value (Set) or feature-specific input (Get); the completion's DW0 returns the value
/// </code>
/// </summary>
public static class Features
{
    public const uint SaveBit = 1u << 31;
    public const byte SelectCurrent = 0;
    public const byte SelectSupportedCapabilities = 3;

    /// <summary>SEL 3 answer: bit 0 saveable, bit 1 namespace specific, bit 2 changeable.</summary>
    public const uint CapabilityChangeable = 1u << 2;

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
}
