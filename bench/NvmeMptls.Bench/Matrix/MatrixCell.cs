namespace NvmeMptls.Bench.Matrix;

/// <summary>One workload of the matrix, as fio options; <see cref="PollMicros"/> &gt; 0 makes our ends busy-poll that long.</summary>
public sealed record MatrixCell(string Name, string Rw, string BlockSize, int IoDepth, int PollMicros = 0)
{
    public static readonly MatrixCell[] All =
    [
        new("4 KiB randread QD1", "randread", "4k", 1),
        new("4 KiB randread QD32", "randread", "4k", 32),
        new("4 KiB randwrite QD32", "randwrite", "4k", 32),
        new("128 KiB read QD16", "read", "128k", 16),
        new("128 KiB write QD16", "write", "128k", 16),
    ];

    /// <summary>
    /// QD1 with our ends busy-polling their sockets for 50 µs before a receive would sleep (<c>Target:ReceivePollMicroseconds</c>,
    /// <c>bench --poll-us</c>), as SPDK's reactor and spdk_nvme_perf poll all the time. Only in the SPDK rows: the default
    /// is not to poll, and the matrix measures defaults.
    /// </summary>
    public static readonly MatrixCell PolledLatency = new("4 KiB randread QD1, polling", "randread", "4k", 1, PollMicros: 50);

    /// <summary>The cells of the SPDK rows: every matrix cell, then <see cref="PolledLatency"/>.</summary>
    public static readonly MatrixCell[] SpdkCells = [.. All, PolledLatency];

    public bool IsLatencyCell => IoDepth == 1;

    public bool IsBandwidthCell => BlockSize == "128k";
}

/// <summary>How the bytes travel: TCP or MPTCP, plain or TLS 1.3.</summary>
public sealed record Carrier(string Name, bool Mptcp, bool Tls)
{
    public static readonly Carrier[] All =
    [
        new("tcp", false, false),
        new("mptcp", true, false),
        new("tls/tcp", false, true),
        new("tls/mptcp", true, true),
    ];
}

/// <summary>What one run of one cell measured, on both sides.</summary>
public sealed record MatrixResult(
    Carrier Carrier,
    MatrixCell Cell,
    double Iops,
    double MiBps,
    double P50Micros,
    double P99Micros,
    double TargetCpuMicrosPerIo,
    double InitiatorCpuMicrosPerIo,
    double TargetBytesPerIo,
    double InitiatorBytesPerIo,
    long Errors);

/// <summary>One SPDK-side measurement: which pair ran, the cell, and its figures (latency: perf's mean, our bench's p50).</summary>
public sealed record SpdkResult(string Pair, MatrixCell Cell, double Iops, double MiBps, double LatencyMicros)
{
    public const string PerfOnSpdk = "spdk_nvme_perf → SPDK nvmf_tgt";
    public const string PerfOnOurs = "spdk_nvme_perf → NvmeMptls";
    public const string BenchOnSpdk = "nvme-mptls bench → SPDK nvmf_tgt";
    public const string BenchOnOurs = "nvme-mptls bench → NvmeMptls";
    public const string PerfTlsOnSpdkStock = "spdk_nvme_perf TLS → SPDK nvmf_tgt TLS (stock ssl options)";
    public const string PerfTlsOnSpdkTuned = "spdk_nvme_perf TLS → SPDK nvmf_tgt TLS (2 MiB ssl buffers)";
    public const string PerfTlsOnOurs = "spdk_nvme_perf TLS → NvmeMptls TLS";
}
