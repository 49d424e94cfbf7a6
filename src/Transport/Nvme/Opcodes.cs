namespace NvmeMptls.Transport.Nvme;

/// <summary>Admin command opcodes. Reference §3.1.</summary>
public static class AdminOpcodes
{
    public const byte DeleteIoSq = 0x00;
    public const byte CreateIoSq = 0x01;
    public const byte GetLogPage = 0x02;
    public const byte DeleteIoCq = 0x04;
    public const byte CreateIoCq = 0x05;
    public const byte Identify = 0x06;
    public const byte Abort = 0x08;
    public const byte SetFeatures = 0x09;
    public const byte GetFeatures = 0x0A;
    public const byte AsyncEventRequest = 0x0C;
    public const byte KeepAlive = 0x18;
}

/// <summary>NVM command set I/O opcodes. Reference §3.9.</summary>
public static class IoOpcodes
{
    public const byte Flush = 0x00;
    public const byte Write = 0x01;
    public const byte Read = 0x02;
    public const byte Compare = 0x05;
    public const byte WriteZeroes = 0x08;
    public const byte DatasetManagement = 0x09;
    public const byte ReservationRegister = 0x0D;
    public const byte ReservationReport = 0x0E;
    public const byte ReservationAcquire = 0x11;
    public const byte ReservationRelease = 0x15;
}

/// <summary>Fabrics command opcode and FCTYPE values. Reference §2.2.</summary>
public static class FabricsOpcodes
{
    public const byte Fabrics = 0x7F;
    public const byte PropertySet = 0x00;
    public const byte Connect = 0x01;
    public const byte PropertyGet = 0x04;
    public const byte AuthenticationSend = 0x05;
    public const byte AuthenticationReceive = 0x06;
    public const byte Disconnect = 0x08;
}

/// <summary>Controller registers reachable through Property Get/Set. Reference §2.4.</summary>
public static class PropertyOffsets
{
    public const uint Cap = 0x00;
    public const uint Vs = 0x08;
    public const uint Cc = 0x14;
    public const uint Csts = 0x1C;
}

/// <summary>Feature identifiers (NVMe Base 2.0, Set Features: Feature Identifiers table). Reference §3.8.</summary>
public static class FeatureIds
{
    public const byte Arbitration = 0x01;
    public const byte PowerManagement = 0x02;
    public const byte TemperatureThreshold = 0x04;
    public const byte ErrorRecovery = 0x05;
    public const byte VolatileWriteCache = 0x06;
    public const byte NumberOfQueues = 0x07;

    /// <summary>08h and 09h are PCIe-only in the feature table: a fabrics controller has no interrupts to configure.</summary>
    public const byte InterruptCoalescing = 0x08;
    public const byte InterruptVectorConfig = 0x09;
    public const byte WriteAtomicityNormal = 0x0A;
    public const byte AsyncEventConfig = 0x0B;
    public const byte KeepAliveTimer = 0x0F;

    /// <summary>Per namespace: which reservation notices are masked (bits 1–3), NVMe Base 2.0 §5.27.1.17.</summary>
    public const byte ReservationNotificationMask = 0x83;

    /// <summary>Per namespace: Persist Through Power Loss (bit 0), NVMe Base 2.0 §5.27.1.18.</summary>
    public const byte ReservationPersistence = 0x84;
    public const byte HostIdentifier = 0x81;
}

/// <summary>Log page identifiers. Reference §3.6.</summary>
public static class LogPageIds
{
    public const byte SupportedLogPages = 0x00;
    public const byte ErrorInformation = 0x01;
    public const byte SmartHealth = 0x02;
    public const byte FirmwareSlot = 0x03;
    public const byte ChangedNamespaceList = 0x04;
    public const byte CommandsSupportedAndEffects = 0x05;
    public const byte AsymmetricNamespaceAccess = 0x0C;
    public const byte ReservationNotification = 0x80;
    public const byte Discovery = 0x70;
}
