using System.Buffers.Binary;
using NvmeMptls.Initiator;

namespace NvmeMptls.IntegrationTests.Soak;

/// <summary>
/// One initiator of the soak: a controller of its own (its own host NQN) and a private region of the namespace,
/// run at a fixed queue depth with a mix of verified reads, writes, FUA writes and flushes. It keeps a ledger of
/// what each 4 KiB unit of its region must hold (the generation of the last acknowledged write) and which of those
/// writes are durable (FUA, or acknowledged before a Flush that then completed). Slots of 16 units are claimed by
/// one I/O at a time, so every read has exactly one right answer.
/// </summary>
internal sealed class SoakInitiator
{
    public const int UnitBytes = 4096;
    public const int UnitsPerSlot = 16;
    private const int SlotBytes = UnitBytes * UnitsPerSlot;
    private const uint Magic = 0x4B414F53; // "SOAK"
    private static readonly TimeSpan IoLimit = TimeSpan.FromSeconds(150);

    /// <summary>A read-back gives up after one hung read or this many failed reads in a row: the controller is not serving.</summary>
    private const int VerifyGiveUpAfter = 3;

    private readonly NvmeNamespace _ns;
    private readonly long _firstByte;
    private readonly int _slots;
    private readonly SoakErrors _errors;
    private readonly int[] _busy;
    private readonly int[] _gen;        // generation of the last acknowledged write of each unit (0 = never written: zeros)
    private readonly long[] _ackSeq;    // completion sequence number of that write
    private readonly bool[] _fua;       // that write had FUA
    private readonly int[] _altGen;     // a write that failed may or may not have landed: its generation, else 0
    private readonly Lock _flushLock = new();
    private long _completionSeq;
    private long _durableSeq;
    private int _nextGen;
    private int _inFlight;
    private volatile TaskCompletionSource? _paused;

    public SoakInitiator(int id, NvmeController controller, NvmeNamespace ns, long firstByte, int slots, SoakErrors errors, SoakClientLog log)
    {
        Id = id;
        Controller = controller;
        Log = log;
        _ns = ns;
        _firstByte = firstByte;
        _slots = slots;
        _errors = errors;
        _busy = new int[slots];
        var units = slots * UnitsPerSlot;
        _gen = new int[units];
        _ackSeq = new long[units];
        _fua = new bool[units];
        _altGen = new int[units];
        controller.StateChanged += (_, change) =>
        {
            if (change.Current == NvmeControllerState.Live)
            {
                Interlocked.Increment(ref Reconnects);
            }
        };
    }

    public int Id { get; }
    public NvmeController Controller { get; }
    public SoakClientLog Log { get; }

    /// <summary>The controller's state, its I/O queue count and what is in flight, for the soak's log.</summary>
    public string Describe() =>
        $"initiator {Id}: controller {Controller.State}, {Volatile.Read(ref _inFlight)} I/O in flight, {Interlocked.Read(ref Hangs)} hung, {Interlocked.Read(ref Reconnects)} reconnects";

    public long Reads;
    public long Writes;
    public long FuaWrites;
    public long Flushes;
    public long VerifiedUnits;
    public long Reconnects;
    public long Hangs;

    /// <summary>Runs <paramref name="depth"/> workers until <paramref name="stop"/>; a worker whose I/O hangs is abandoned (counted).</summary>
    public Task RunAsync(int depth, CancellationToken stop) =>
        Task.WhenAll(Enumerable.Range(0, depth).Select(w => Task.Run(() => WorkerAsync(w, stop), CancellationToken.None)));

    /// <summary>Stops new I/O and waits until none is in flight (hung I/Os excepted, they are counted).</summary>
    public async Task PauseAsync()
    {
        Pause();
        await DrainAsync().ConfigureAwait(false);
    }

    /// <summary>Stops new I/O (what is in flight goes on).</summary>
    public void Pause() => Interlocked.CompareExchange(ref _paused, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously), null);

    /// <summary>Waits until no I/O is in flight (hung ones excepted).</summary>
    public async Task DrainAsync()
    {
        var deadline = DateTime.UtcNow + IoLimit + TimeSpan.FromSeconds(10);
        while (Volatile.Read(ref _inFlight) > Interlocked.Read(ref Hangs) && DateTime.UtcNow < deadline)
        {
            await Task.Delay(20);
        }
    }

    public void Resume() => Interlocked.Exchange(ref _paused, null)?.TrySetResult();

    /// <summary>
    /// With the workload paused: reads the whole region back and checks every unit against the ledger. A unit whose
    /// last acknowledged write was durable and does not read back is a lost write; any other difference a mismatch.
    /// Returns the number of durable units checked.
    /// </summary>
    public async Task<long> VerifyAllAsync(string when)
    {
        var buffer = new byte[SlotBytes];
        var expected = new byte[UnitBytes];
        long durable = 0;
        var failedInARow = 0;
        for (var slot = 0; slot < _slots; slot++)
        {
            if (Volatile.Read(ref _busy[slot]) != 0)
            {
                continue; // a hung I/O still holds it
            }

            var outcome = await TryAsync(() => _ns.ReadAsync(Lba(slot, 0), buffer), $"verify read slot {slot}").ConfigureAwait(false);
            if (outcome != Outcome.Done)
            {
                if (outcome == Outcome.Hung || ++failedInARow == VerifyGiveUpAfter)
                {
                    // Each failed read costs seconds and a hang minutes: reading on would take hours and find nothing more.
                    _errors.Error(Id, $"verify ({when})", $"read-back abandoned at slot {slot} of {_slots} after {(outcome == Outcome.Hung ? "a hung read" : $"{failedInARow} failed reads in a row")}; {Describe()}", hang: false);
                    return durable;
                }

                continue;
            }

            failedInARow = 0;

            for (var u = 0; u < UnitsPerSlot; u++)
            {
                var unit = slot * UnitsPerSlot + u;
                if (IsDurable(unit))
                {
                    durable++;
                }

                Check(unit, buffer.AsSpan(u * UnitBytes, UnitBytes), expected, when);
            }
        }

        return durable;
    }

    private bool IsDurable(int unit) => _gen[unit] > 0 && _altGen[unit] == 0 && (_fua[unit] || _ackSeq[unit] <= Interlocked.Read(ref _durableSeq));

    private ulong Lba(int slot, int unit) => (ulong)((_firstByte + (long)slot * SlotBytes + (long)unit * UnitBytes) / _ns.LbaSize);

    private async Task WorkerAsync(int worker, CancellationToken stop)
    {
        var random = new Random(Id * 1000 + worker);
        var readBuffer = new byte[SlotBytes];
        var writeBuffer = new byte[SlotBytes];
        var expected = new byte[UnitBytes];
        while (!stop.IsCancellationRequested)
        {
            Interlocked.Increment(ref _inFlight);
            if (_paused is { } gate)
            {
                Interlocked.Decrement(ref _inFlight);
                await gate.Task.WaitAsync(stop).ContinueWith(_ => { }, TaskScheduler.Default).ConfigureAwait(false);
                continue;
            }

            var slot = random.Next(_slots);
            if (Interlocked.CompareExchange(ref _busy[slot], 1, 0) != 0)
            {
                Interlocked.Decrement(ref _inFlight);
                continue;
            }

            var hung = false;
            try
            {
                var first = random.Next(UnitsPerSlot);
                var count = 1 + random.Next(UnitsPerSlot - first);
                var kind = random.Next(100);
                hung = kind switch
                {
                    < 55 => await ReadAsync(slot, first, count, readBuffer, expected).ConfigureAwait(false),
                    < 95 => await WriteAsync(slot, first, count, writeBuffer, fua: kind >= 88).ConfigureAwait(false),
                    _ => await FlushAsync().ConfigureAwait(false),
                };
            }
            finally
            {
                if (!hung)
                {
                    Volatile.Write(ref _busy[slot], 0);
                    Interlocked.Decrement(ref _inFlight);
                }
            }

            if (hung)
            {
                return; // this worker's I/O never completed; the slot stays claimed
            }
        }
    }

    private async Task<bool> ReadAsync(int slot, int first, int count, byte[] buffer, byte[] expected)
    {
        var memory = buffer.AsMemory(0, count * UnitBytes);
        var outcome = await TryAsync(() => _ns.ReadAsync(Lba(slot, first), memory), "read").ConfigureAwait(false);
        if (outcome == Outcome.Done)
        {
            Interlocked.Increment(ref Reads);
            for (var u = 0; u < count; u++)
            {
                Check(slot * UnitsPerSlot + first + u, buffer.AsSpan(u * UnitBytes, UnitBytes), expected, "read");
            }
        }

        return outcome == Outcome.Hung;
    }

    private async Task<bool> WriteAsync(int slot, int first, int count, byte[] buffer, bool fua)
    {
        var gen = Interlocked.Increment(ref _nextGen);
        for (var u = 0; u < count; u++)
        {
            Fill(buffer.AsSpan(u * UnitBytes, UnitBytes), Id, slot * UnitsPerSlot + first + u, gen);
        }

        var data = buffer.AsMemory(0, count * UnitBytes);
        var outcome = await TryAsync(() => _ns.WriteAsync(Lba(slot, first), data, fua), fua ? "write FUA" : "write").ConfigureAwait(false);
        if (outcome == Outcome.Done)
        {
            var seq = Interlocked.Increment(ref _completionSeq);
            for (var u = 0; u < count; u++)
            {
                var unit = slot * UnitsPerSlot + first + u;
                _gen[unit] = gen;
                _ackSeq[unit] = seq;
                _fua[unit] = fua;
                _altGen[unit] = 0;
            }

            Interlocked.Increment(ref fua ? ref FuaWrites : ref Writes);
        }
        else
        {
            // Not acknowledged: the units hold either the old or the new data until the next write settles them.
            for (var u = 0; u < count; u++)
            {
                _altGen[slot * UnitsPerSlot + first + u] = gen;
            }
        }

        return outcome == Outcome.Hung;
    }

    private async Task<bool> FlushAsync()
    {
        var seq = Interlocked.Read(ref _completionSeq);
        var outcome = await TryAsync(() => _ns.FlushAsync(), "flush").ConfigureAwait(false);
        if (outcome == Outcome.Done)
        {
            Interlocked.Increment(ref Flushes);
            lock (_flushLock)
            {
                if (seq > _durableSeq)
                {
                    Interlocked.Exchange(ref _durableSeq, seq);
                }
            }
        }

        return outcome == Outcome.Hung;
    }

    private void Check(int unit, ReadOnlySpan<byte> actual, byte[] expected, string when)
    {
        var gen = _gen[unit];
        Fill(expected, Id, unit, gen);
        if (actual.SequenceEqual(expected))
        {
            _altGen[unit] = 0;
            Interlocked.Increment(ref VerifiedUnits);
            return;
        }

        if (_altGen[unit] is var alt and > 0)
        {
            Fill(expected, Id, unit, alt);
            if (actual.SequenceEqual(expected))
            {
                // The unacknowledged write did land: it is now what the unit holds (not known to be durable).
                _gen[unit] = alt;
                _ackSeq[unit] = long.MaxValue;
                _fua[unit] = false;
                _altGen[unit] = 0;
                Interlocked.Increment(ref VerifiedUnits);
                return;
            }
        }

        var found = BinaryPrimitives.ReadUInt32LittleEndian(actual) == Magic
            ? $"initiator {actual[4]} unit {BinaryPrimitives.ReadInt32LittleEndian(actual[8..])} generation {BinaryPrimitives.ReadInt32LittleEndian(actual[12..])}"
            : actual.IndexOfAnyExcept((byte)0) < 0 ? "zeros" : "foreign bytes";
        _errors.Mismatch(IsDurable(unit), $"initiator {Id} unit {unit} ({when}): expected generation {gen}{(_fua[unit] ? " (FUA)" : "")}, found {found}");
    }

    /// <summary>Data of one unit: a header naming initiator, unit and generation, then bytes derived from them.</summary>
    public static void Fill(Span<byte> unit, int initiator, int index, int gen)
    {
        if (gen == 0)
        {
            unit.Clear();
            return;
        }

        BinaryPrimitives.WriteUInt32LittleEndian(unit, Magic);
        BinaryPrimitives.WriteInt32LittleEndian(unit[4..], initiator);
        BinaryPrimitives.WriteInt32LittleEndian(unit[8..], index);
        BinaryPrimitives.WriteInt32LittleEndian(unit[12..], gen);
        var x = ((ulong)(uint)gen << 32 | (uint)index) ^ ((ulong)initiator * 0x9E3779B97F4A7C15UL) | 1;
        for (var o = 16; o < unit.Length; o += 8)
        {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            BinaryPrimitives.WriteUInt64LittleEndian(unit[o..], x);
        }
    }

    private enum Outcome
    {
        Done,
        Failed,
        Hung,
    }

    /// <summary>One I/O with one application-level retry after an error; errors are recorded with their time.</summary>
    private async Task<Outcome> TryAsync(Func<ValueTask> io, string what)
    {
        var failed = -1;
        for (var attempt = 0; attempt < 2; attempt++)
        {
            try
            {
                await io().AsTask().WaitAsync(IoLimit).ConfigureAwait(false);
                if (failed >= 0)
                {
                    _errors.MarkRecovered(failed);
                }

                return Outcome.Done;
            }
            catch (TimeoutException)
            {
                Interlocked.Increment(ref Hangs);
                _errors.Error(Id, what, $"no completion within {IoLimit.TotalSeconds} s (hang)", hang: true);
                return Outcome.Hung;
            }
            catch (Exception ex) when (ex is IOException or Transport.Nvme.NvmeStatusException or InvalidOperationException)
            {
                failed = _errors.Error(Id, what, ex.GetType().Name + ": " + ex.Message, hang: false);
                await Task.Delay(1000).ConfigureAwait(false);
            }
        }

        return Outcome.Failed;
    }
}
