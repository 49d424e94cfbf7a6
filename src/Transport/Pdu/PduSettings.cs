namespace NvmeMptls.Transport.Pdu;

/// <summary>Which end of the NVMe/TCP connection this is: it decides which PDU types may be received.</summary>
public enum PduRole
{
    /// <summary>The controller (target): receives ICReq, H2CTermReq, CapsuleCmd, H2CData.</summary>
    Controller,
    /// <summary>The host (initiator): receives ICResp, C2HTermReq, CapsuleResp, C2HData, R2T.</summary>
    Host,
}

/// <summary>
/// What the ICReq/ICResp exchange negotiated, plus this end's receive limits. Mutable until the exchange is
/// done, then fixed for the life of the connection.
/// </summary>
public sealed class PduSettings
{
    /// <summary>Header digests (CRC32C) on every PDU but ICReq/ICResp/TermReq.</summary>
    public bool HeaderDigest { get; set; }

    /// <summary>Data digests (CRC32C) on every PDU that carries data.</summary>
    public bool DataDigest { get; set; }

    /// <summary>Our own PDU data alignment (0's based dwords): received PDO must be a multiple of (value+1)·4.</summary>
    public byte ReceiveAlignment { get; set; }

    /// <summary>The peer's PDU data alignment (0's based dwords): data we send is padded to it.</summary>
    public byte SendAlignment { get; set; }

    /// <summary>Largest in-capsule data a CapsuleCmd may carry to us (controller role).</summary>
    public int MaxInCapsuleData { get; set; } = 8192;

    /// <summary>Largest DATAL of one H2CData PDU (controller: what we advertised; host: what the controller allows).</summary>
    public uint MaxH2CData { get; set; } = 128 * 1024;

    /// <summary>Largest DATAL of one C2HData PDU we accept (host role): the maximum data transfer size.</summary>
    public uint MaxC2HData { get; set; } = 4 * 1024 * 1024;

    public int HeaderDigestLength => HeaderDigest ? 4 : 0;

    public int DataDigestLength => DataDigest ? 4 : 0;
}
