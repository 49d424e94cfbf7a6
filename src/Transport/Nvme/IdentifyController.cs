using System.Buffers.Binary;

namespace NvmeMptls.Transport.Nvme;

/// <summary>
/// The fields of the 4096-byte Identify Controller structure (CNS 01h) a fabrics controller fills. Reference §3.3
/// (offsets compiled from libnvme's types.h).
/// </summary>
public sealed record IdentifyController
{
    public const int Size = 4096;
    public const int VidOffset = 0;
    public const int SsvidOffset = 2;
    public const int SerialOffset = 4;
    public const int ModelOffset = 24;
    public const int FirmwareOffset = 64;
    public const int RabOffset = 72;
    public const int IeeeOffset = 73;
    public const int CmicOffset = 76;
    public const int MdtsOffset = 77;
    public const int CntlIdOffset = 78;
    public const int VerOffset = 80;
    public const int OaesOffset = 92;
    public const int CtrattOffset = 96;
    public const int CntrlTypeOffset = 111;
    public const int OacsOffset = 256;
    public const int AclOffset = 258;
    public const int AerlOffset = 259;
    public const int FrmwOffset = 260;
    public const int LpaOffset = 261;
    public const int ElpeOffset = 262;
    public const int NpssOffset = 263;
    public const int KasOffset = 320;
    public const int AnattOffset = 342;
    public const int AnacapOffset = 343;
    public const int AnaGrpMaxOffset = 344;
    public const int NAnaGrpIdOffset = 348;
    public const int SqesOffset = 512;
    public const int CqesOffset = 513;
    public const int MaxCmdOffset = 514;
    public const int NnOffset = 516;
    public const int OncsOffset = 520;
    public const int FusesOffset = 522;
    public const int VwcOffset = 525;
    public const int SglsOffset = 536;
    public const int MnanOffset = 540;
    public const int SubNqnOffset = 768;
    public const int IoccszOffset = 1792;
    public const int IorcszOffset = 1796;
    public const int IcdoffOffset = 1800;
    public const int FcattOffset = 1802;
    public const int MsdbdOffset = 1803;
    public const int OfcsOffset = 1804;
    public const int DctypeOffset = 1806;
    public const int Psd0Offset = 2048;

    /// <summary>CNTRLTYPE values.</summary>
    public const byte TypeIo = 1;
    public const byte TypeDiscovery = 2;

    /// <summary>CMIC bits: more than one port, more than one controller, ANA reporting (NVMe Base 2.0 §5.17.2.1, Figure 275).</summary>
    public const byte CmicMultiPort = 0x01;
    public const byte CmicMultiController = 0x02;
    public const byte CmicAnaReporting = 0x08;

    /// <summary>ANACAP bits 4:0: the ANA states a controller reports (optimized, non-optimized, inaccessible, persistent loss, change).</summary>
    public const byte AnacapAllStates = 0x1F;

    /// <summary>LPA bits: SMART / Health per namespace, Commands Supported and Effects log (05h), extended Get Log Page data (NUMDU, LPO).</summary>
    public const byte LpaSmartPerNamespace = 0x01;
    public const byte LpaCommandEffects = 0x02;
    public const byte LpaExtendedData = 0x04;

    public ushort VendorId { get; init; }
    public ushort SubsystemVendorId { get; init; }

    /// <summary>IEEE OUI, 24 bits; stored least significant byte first at bytes 75:73.</summary>
    public uint IeeeOui { get; init; }
    public string Serial { get; init; } = "";
    public string Model { get; init; } = "";
    public string Firmware { get; init; } = "";
    public byte Cmic { get; init; }
    public byte Mdts { get; init; }
    public ushort ControllerId { get; init; }
    public uint Version { get; init; }
    public uint Oaes { get; init; }
    public uint Ctratt { get; init; }
    public byte ControllerType { get; init; }
    public byte Aerl { get; init; }
    public byte Lpa { get; init; }
    public byte Elpe { get; init; }
    public ushort KeepAliveSupport { get; init; }

    /// <summary>ANATT: seconds a group may stay in the ANA change state.</summary>
    public byte AnaTransitionTime { get; init; }
    public byte AnaCapabilities { get; init; }
    public uint AnaGroupIdMax { get; init; }
    public uint AnaGroupCount { get; init; }
    public ushort MaxCmd { get; init; }
    public uint NamespaceCount { get; init; }
    public ushort Oncs { get; init; }
    public byte Vwc { get; init; }
    public uint Sgls { get; init; }
    public string SubsystemNqn { get; init; } = "";
    public uint Ioccsz { get; init; }
    public uint Iorcsz { get; init; }
    public byte Msdbd { get; init; }

    public void Write(Span<byte> d)
    {
        d[..Size].Clear();
        BinaryPrimitives.WriteUInt16LittleEndian(d[VidOffset..], VendorId);
        BinaryPrimitives.WriteUInt16LittleEndian(d[SsvidOffset..], SubsystemVendorId);
        AsciiField.WriteSpacePadded(d.Slice(SerialOffset, 20), Serial);
        AsciiField.WriteSpacePadded(d.Slice(ModelOffset, 40), Model);
        AsciiField.WriteSpacePadded(d.Slice(FirmwareOffset, 8), Firmware);
        d[RabOffset] = 6;
        d[IeeeOffset] = (byte)IeeeOui;
        d[IeeeOffset + 1] = (byte)(IeeeOui >> 8);
        d[IeeeOffset + 2] = (byte)(IeeeOui >> 16);
        d[CmicOffset] = Cmic;
        d[MdtsOffset] = Mdts;
        BinaryPrimitives.WriteUInt16LittleEndian(d[CntlIdOffset..], ControllerId);
        BinaryPrimitives.WriteUInt32LittleEndian(d[VerOffset..], Version);
        BinaryPrimitives.WriteUInt32LittleEndian(d[OaesOffset..], Oaes);
        BinaryPrimitives.WriteUInt32LittleEndian(d[CtrattOffset..], Ctratt);
        d[CntrlTypeOffset] = ControllerType;
        d[AclOffset] = 3;
        d[AerlOffset] = Aerl;
        d[LpaOffset] = Lpa;
        d[ElpeOffset] = Elpe;
        BinaryPrimitives.WriteUInt16LittleEndian(d[KasOffset..], KeepAliveSupport);
        d[AnattOffset] = AnaTransitionTime;
        d[AnacapOffset] = AnaCapabilities;
        BinaryPrimitives.WriteUInt32LittleEndian(d[AnaGrpMaxOffset..], AnaGroupIdMax);
        BinaryPrimitives.WriteUInt32LittleEndian(d[NAnaGrpIdOffset..], AnaGroupCount);
        d[SqesOffset] = 0x66;
        d[CqesOffset] = 0x44;
        BinaryPrimitives.WriteUInt16LittleEndian(d[MaxCmdOffset..], MaxCmd);
        BinaryPrimitives.WriteUInt32LittleEndian(d[NnOffset..], NamespaceCount);
        BinaryPrimitives.WriteUInt16LittleEndian(d[OncsOffset..], Oncs);
        d[VwcOffset] = Vwc;
        BinaryPrimitives.WriteUInt32LittleEndian(d[SglsOffset..], Sgls);
        BinaryPrimitives.WriteUInt32LittleEndian(d[MnanOffset..], NamespaceCount);
        AsciiField.WriteNulPadded(d.Slice(SubNqnOffset, 256), SubsystemNqn);
        BinaryPrimitives.WriteUInt32LittleEndian(d[IoccszOffset..], Ioccsz);
        BinaryPrimitives.WriteUInt32LittleEndian(d[IorcszOffset..], Iorcsz);
        d[MsdbdOffset] = Msdbd;

        // PSD0: max power 25.00 W (0x9C4 centiwatts), entry/exit latency 16/4 µs, as QEMU and Linux report.
        BinaryPrimitives.WriteUInt16LittleEndian(d[Psd0Offset..], 0x9C4);
        BinaryPrimitives.WriteUInt32LittleEndian(d[(Psd0Offset + 4)..], 0x10);
        BinaryPrimitives.WriteUInt32LittleEndian(d[(Psd0Offset + 8)..], 0x4);
    }

    public static IdentifyController Read(ReadOnlySpan<byte> d) => new()
    {
        VendorId = BinaryPrimitives.ReadUInt16LittleEndian(d[VidOffset..]),
        SubsystemVendorId = BinaryPrimitives.ReadUInt16LittleEndian(d[SsvidOffset..]),
        IeeeOui = d[IeeeOffset] | ((uint)d[IeeeOffset + 1] << 8) | ((uint)d[IeeeOffset + 2] << 16),
        Serial = AsciiField.Read(d.Slice(SerialOffset, 20)),
        Model = AsciiField.Read(d.Slice(ModelOffset, 40)),
        Firmware = AsciiField.Read(d.Slice(FirmwareOffset, 8)),
        Cmic = d[CmicOffset],
        Mdts = d[MdtsOffset],
        ControllerId = BinaryPrimitives.ReadUInt16LittleEndian(d[CntlIdOffset..]),
        Version = BinaryPrimitives.ReadUInt32LittleEndian(d[VerOffset..]),
        Oaes = BinaryPrimitives.ReadUInt32LittleEndian(d[OaesOffset..]),
        Ctratt = BinaryPrimitives.ReadUInt32LittleEndian(d[CtrattOffset..]),
        ControllerType = d[CntrlTypeOffset],
        Aerl = d[AerlOffset],
        Lpa = d[LpaOffset],
        Elpe = d[ElpeOffset],
        KeepAliveSupport = BinaryPrimitives.ReadUInt16LittleEndian(d[KasOffset..]),
        AnaTransitionTime = d[AnattOffset],
        AnaCapabilities = d[AnacapOffset],
        AnaGroupIdMax = BinaryPrimitives.ReadUInt32LittleEndian(d[AnaGrpMaxOffset..]),
        AnaGroupCount = BinaryPrimitives.ReadUInt32LittleEndian(d[NAnaGrpIdOffset..]),
        MaxCmd = BinaryPrimitives.ReadUInt16LittleEndian(d[MaxCmdOffset..]),
        NamespaceCount = BinaryPrimitives.ReadUInt32LittleEndian(d[NnOffset..]),
        Oncs = BinaryPrimitives.ReadUInt16LittleEndian(d[OncsOffset..]),
        Vwc = d[VwcOffset],
        Sgls = BinaryPrimitives.ReadUInt32LittleEndian(d[SglsOffset..]),
        SubsystemNqn = AsciiField.Read(d.Slice(SubNqnOffset, 256)),
        Ioccsz = BinaryPrimitives.ReadUInt32LittleEndian(d[IoccszOffset..]),
        Iorcsz = BinaryPrimitives.ReadUInt32LittleEndian(d[IorcszOffset..]),
        Msdbd = d[MsdbdOffset],
    };
}
