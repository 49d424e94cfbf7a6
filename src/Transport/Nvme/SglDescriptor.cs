namespace NvmeMptls.Transport.Nvme;

/// <summary>What an NVMe/TCP command's single SGL descriptor means. Reference §1.10.</summary>
public enum SglKind
{
    /// <summary>0x01 Data Block / Offset: data travels in the capsule; Address = offset into it.</summary>
    InCapsule,
    /// <summary>0x5A Transport SGL Data Block: data moves by C2HData or R2T + H2CData (Length 0: no data).</summary>
    Transport,
    /// <summary>Any other identifier: not supported by NVMe/TCP.</summary>
    Unsupported,
}

public static class SglDescriptor
{
    public const byte InCapsuleIdentifier = 0x01;
    public const byte TransportIdentifier = 0x5A;

    public static SglKind Classify(byte identifier) => identifier switch
    {
        InCapsuleIdentifier => SglKind.InCapsule,
        TransportIdentifier => SglKind.Transport,
        _ => SglKind.Unsupported,
    };
}
