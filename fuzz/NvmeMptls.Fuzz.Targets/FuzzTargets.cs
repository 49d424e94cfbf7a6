namespace NvmeMptls.Fuzz;

/// <summary>
/// Every fuzz target by name. A target takes one input and must return normally for any bytes: it catches only the
/// exceptions its parser documents for bad input, so anything else (or a hang, or runaway allocation) is a finding.
/// </summary>
public static class FuzzTargets
{
    /// <summary>Longest an input may keep a target busy before <see cref="FuzzHangException"/> is thrown.</summary>
    public static readonly TimeSpan Deadline = TimeSpan.FromSeconds(3);

    /// <summary>Most bytes one input may make a target allocate (the largest legitimate buffer is a few MiB).</summary>
    public const long MaxAllocatedBytes = 256L << 20;

    private static readonly Dictionary<string, Action<byte[]>> s_targets = new(StringComparer.Ordinal)
    {
        ["pdu"] = PduTarget.Run,
        ["target-queue"] = TargetQueueTarget.Run,
        ["initiator-buffers"] = InitiatorBufferTarget.Run,
        ["tls-record"] = TlsRecordTarget.Run,
        ["client-hello"] = ClientHelloTarget.Run,
        ["tls-accept"] = TlsAcceptTarget.Run,
        ["nbd"] = NbdTarget.Run,
        ["config"] = ConfigTarget.Run,
        ["psk"] = PskTarget.Run,
        ["chap-secret"] = ChapSecretTarget.Run,
        ["reservation-state"] = ReservationStateTarget.Run,
        ["reservation-io"] = ReservationIoTarget.Run,
    };

    public static IReadOnlyCollection<string> Names => s_targets.Keys;

    /// <summary>Runs <paramref name="input"/> through <paramref name="target"/>, failing on runaway allocation.</summary>
    public static void Run(string target, byte[] input)
    {
        if (!s_targets.TryGetValue(target, out var run))
        {
            throw new ArgumentException($"unknown fuzz target '{target}' (known: {string.Join(", ", Names)})", nameof(target));
        }

        var before = GC.GetTotalAllocatedBytes();
        run(input);
        var allocated = GC.GetTotalAllocatedBytes() - before;
        if (allocated > MaxAllocatedBytes)
        {
            throw new FuzzAllocationException($"{target}: one input of {input.Length} bytes allocated {allocated >> 20} MiB");
        }
    }

    /// <summary>Waits for a target's asynchronous work, turning a hang into an exception AFL records as a crash.</summary>
    internal static void Await(Task task, string what)
    {
        if (!task.Wait(Deadline))
        {
            throw new FuzzHangException($"{what} did not finish within {Deadline.TotalSeconds} s");
        }
    }
}

/// <summary>Reading a pipe to its end, as a peer that takes whatever it is sent.</summary>
internal static class PipeDrain
{
    /// <summary>Reads and drops everything; an I/O error (an alert, a truncated stream) is an end too.</summary>
    public static async Task ToEndAsync(System.IO.Pipelines.PipeReader reader)
    {
        try
        {
            while (true)
            {
                var result = await reader.ReadAsync().ConfigureAwait(false);
                reader.AdvanceTo(result.Buffer.End);
                if (result.IsCompleted || result.IsCanceled)
                {
                    return;
                }
            }
        }
        catch (IOException)
        {
        }
    }
}

/// <summary>A target did not finish one input in time: a hang.</summary>
public sealed class FuzzHangException(string message) : Exception(message);

/// <summary>A target allocated more for one input than any legitimate input needs.</summary>
public sealed class FuzzAllocationException(string message) : Exception(message);
