namespace NvmeMptls.Initiator.LoadGen;

/// <summary>fio's <c>rw=</c> values (<c>rw</c> is fio's alias of <c>readwrite</c>).</summary>
public enum BenchRw
{
    Read,
    Write,
    RandRead,
    RandWrite,
    ReadWrite,
    RandRw,
}

public enum BenchVerify
{
    None,
    Crc32c,
}

/// <summary>fio's <c>ioengine=</c>: the NVMe namespace (any other engine name is fio's and ignored), or <c>null</c>.</summary>
public enum BenchEngine
{
    /// <summary>The namespace the command connects to.</summary>
    Nvme,

    /// <summary>fio's null engine: every I/O completes at once without data; measures the load generator itself.</summary>
    Null,
}

public enum BenchOutputFormat
{
    Normal,
    Json,
}

/// <summary>
/// One fio job section after parsing, with fio's names and meanings. Sizes are bytes; <see cref="Size"/> 0 means
/// "to the end of the device". <see cref="NumJobs"/> clones run side by side, each at
/// <c>Offset + clone × OffsetIncrement</c>.
/// </summary>
public sealed record BenchJob
{
    public string Name { get; init; } = "bench";

    public BenchRw Rw { get; init; } = BenchRw.Read;

    /// <summary>Percentage of reads in mixed modes.</summary>
    public int RwMixRead { get; init; } = 50;

    public int BlockSize { get; init; } = 4096;

    public int IoDepth { get; init; } = 1;

    public int NumJobs { get; init; } = 1;

    public long Size { get; init; }

    public long Offset { get; init; }

    public long OffsetIncrement { get; init; }

    /// <summary>Limit of the measured phase; with <see cref="TimeBased"/> the job runs this long even after <see cref="Size"/> is done.</summary>
    public TimeSpan? Runtime { get; init; }

    public bool TimeBased { get; init; }

    /// <summary>Run this long before measuring.</summary>
    public TimeSpan RampTime { get; init; }

    public BenchVerify Verify { get; init; }

    /// <summary>NVMe I/O queues the device opener should set up; the engine itself only passes it through.</summary>
    public int NrIoQueues { get; init; } = 1;

    public BenchOutputFormat OutputFormat { get; init; }

    /// <summary>fio ioengine: <see cref="BenchEngine.Null"/> runs without a target.</summary>
    public BenchEngine Engine { get; init; }

    /// <summary>Report all clones of this job as one (fio group_reporting).</summary>
    public bool GroupReporting { get; init; }

    /// <summary>fio continue_on_error: false stops the job at its first I/O or verify error, as fio does by default.</summary>
    public bool ContinueOnError { get; init; }

    /// <summary>Seed of the offset generator (fio randseed); the same seed gives the same offsets.</summary>
    public ulong RandSeed { get; init; } = 0x2545F4914F6CDD1D;

    /// <summary>Options accepted from a fio job but meaningless here, and why.</summary>
    public IReadOnlyList<string> Notes { get; init; } = [];

    public bool IsRandom => Rw is BenchRw.RandRead or BenchRw.RandWrite or BenchRw.RandRw;

    public bool Reads => Rw is BenchRw.Read or BenchRw.RandRead or BenchRw.ReadWrite or BenchRw.RandRw;

    public bool Writes => Rw is BenchRw.Write or BenchRw.RandWrite or BenchRw.ReadWrite or BenchRw.RandRw;

    /// <summary>Percentage of reads this job issues.</summary>
    public int ReadPercent => Rw switch
    {
        BenchRw.Read or BenchRw.RandRead => 100,
        BenchRw.Write or BenchRw.RandWrite => 0,
        _ => RwMixRead,
    };

    /// <summary>fio's spelling of <see cref="Rw"/>.</summary>
    public string RwName => Rw switch
    {
        BenchRw.Read => "read",
        BenchRw.Write => "write",
        BenchRw.RandRead => "randread",
        BenchRw.RandWrite => "randwrite",
        BenchRw.ReadWrite => "rw",
        _ => "randrw",
    };

    /// <summary>Throws naming the fio key when the job cannot run.</summary>
    public void Validate()
    {
        Check(BlockSize >= 512 && BlockSize % 512 == 0, "bs", "a multiple of 512");
        Check(Verify == BenchVerify.None || BlockSize >= BenchVerifier.HeaderSize * 2, "bs", "at least 64 with verify");
        Check(IoDepth is >= 1 and <= 65536, "iodepth", "1..65536");
        Check(NumJobs is >= 1 and <= 1024, "numjobs", "1..1024");
        Check(RwMixRead is >= 0 and <= 100, "rwmixread", "0..100");
        Check(Size >= 0 && Size % BlockSize == 0, "size", "a multiple of bs (or 0 for the whole device)");
        Check(Offset >= 0 && Offset % 512 == 0, "offset", "a non-negative multiple of 512");
        Check(OffsetIncrement >= 0 && OffsetIncrement % 512 == 0, "offset_increment", "a non-negative multiple of 512");
        Check(Runtime is null || Runtime > TimeSpan.Zero, "runtime", "positive");
        Check(!TimeBased || Runtime is not null, "time_based", "used together with runtime");
        Check(NrIoQueues is >= 1 and <= 1024, "nr-io-queues", "1..1024");
        Check(Engine != BenchEngine.Null || Verify == BenchVerify.None, "verify", "0 with ioengine=null (the null engine keeps no data)");
    }

    private void Check(bool ok, string key, string accepted)
    {
        if (!ok)
        {
            throw new BenchJobException($"job '{Name}': {key} must be {accepted}");
        }
    }
}

/// <summary>A job description that cannot run, with the key at fault in the message.</summary>
public sealed class BenchJobException : Exception
{
    public BenchJobException(string message)
        : base(message)
    {
    }
}
