using System.Buffers.Binary;

namespace NvmeMptls.Transport.Nvme;

/// <summary>
/// The fields of the reservation commands (NVMe Base 2.0 §7.3–§7.6), CDW10 and the data they carry:
/// <code>
/// Register (0Dh)  CDW10 bits 2:0 RREGA (0 register, 1 unregister, 2 replace), bit 3 IEKEY, bits 31:30 CPTPL
///                 data 16 bytes: CRKEY (current key), NRKEY (new key)
/// Acquire (11h)   CDW10 bits 2:0 RACQA (0 acquire, 1 preempt, 2 preempt and abort), bit 3 IEKEY, bits 15:8 RTYPE
///                 data 16 bytes: CRKEY, PRKEY (key to preempt)
/// Release (15h)   CDW10 bits 2:0 RRELA (0 release, 1 clear), bit 3 IEKEY, bits 15:8 RTYPE
///                 data 8 bytes: CRKEY
/// Report (0Eh)    CDW10 NUMD (0's based dwords), CDW11 bit 0 EDS (extended data structure)
/// </code>
/// </summary>
public readonly record struct ReservationCommand(byte Action, bool IgnoreExistingKey, ReservationType Type, byte ChangePtpl)
{
    public const int KeysDataSize = 16;
    public const int ReleaseDataSize = 8;

    public const byte RegisterAction = 0;
    public const byte UnregisterAction = 1;
    public const byte ReplaceAction = 2;
    public const byte AcquireAction = 0;
    public const byte PreemptAction = 1;
    public const byte PreemptAndAbortAction = 2;
    public const byte ReleaseAction = 0;
    public const byte ClearAction = 1;

    /// <summary>CPTPL: 0 no change, 2 clear PTPL, 3 set PTPL (1 is reserved).</summary>
    public const byte PtplNoChange = 0;
    public const byte PtplClear = 2;
    public const byte PtplSet = 3;

    public static ReservationCommand Read(in NvmeCommand command) => new(
        (byte)(command.Cdw10 & 7),
        (command.Cdw10 & 8) != 0,
        (ReservationType)(byte)(command.Cdw10 >> 8),
        (byte)(command.Cdw10 >> 30));

    public uint ToCdw10() => (uint)(Action & 7) | (IgnoreExistingKey ? 8u : 0) | ((uint)Type << 8) | ((uint)(ChangePtpl & 3) << 30);

    /// <summary>Report CDW11 bit 0: the host asks for the extended (128-bit host identifier) structure.</summary>
    public static bool ExtendedReport(in NvmeCommand command) => (command.Cdw11 & 1) != 0;

    /// <summary>Key at byte 0 of the data (CRKEY) and at byte 8 (NRKEY / PRKEY), little endian.</summary>
    public static (ulong Current, ulong Other) ReadKeys(ReadOnlySpan<byte> data) =>
        (BinaryPrimitives.ReadUInt64LittleEndian(data), data.Length >= 16 ? BinaryPrimitives.ReadUInt64LittleEndian(data[8..]) : 0);

    public static void WriteKeys(Span<byte> data, ulong current, ulong other)
    {
        BinaryPrimitives.WriteUInt64LittleEndian(data, current);
        if (data.Length >= 16)
        {
            BinaryPrimitives.WriteUInt64LittleEndian(data[8..], other);
        }
    }
}
