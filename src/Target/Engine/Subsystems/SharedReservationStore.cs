using System.Globalization;
using System.Text;

namespace NvmeMptls.Target.Subsystems;

/// <summary>
/// One version of a namespace's reservation state shared by several gateways, with what the change that made it
/// means for hosts: the notices to raise (for each gateway's own controllers of those hosts) and the hosts whose
/// in-flight commands a Preempt and Abort aborts. Text form (the state object's content, and a notify's payload):
/// <code>
/// nvmemptls-reservation-change 1
/// version 8
/// notice 3f2504e0-4f89-41d3-9a0c-0305e82c3301 1
/// abort 3f2504e0-4f89-41d3-9a0c-0305e82c3301
/// nvmemptls-reservations 1
/// ... (the state, as <see cref="FileReservationStore"/> writes it)
/// </code>
/// </summary>
public sealed record ReservationChange(ulong Version, ReservationSnapshot Snapshot, IReadOnlyList<ReservationNotice> Notices, IReadOnlyList<Guid> Aborted)
{
    private const string Magic = "nvmemptls-reservation-change 1";
    private const string StateMagic = "nvmemptls-reservations 1";

    /// <summary>Version 0: nothing was ever saved.</summary>
    public static ReservationChange Initial { get; } = new(0, ReservationSnapshot.Empty, [], []);

    public string Format()
    {
        var text = new StringBuilder(Magic).Append('\n');
        text.Append(CultureInfo.InvariantCulture, $"version {Version}\n");
        foreach (var notice in Notices)
        {
            text.Append(CultureInfo.InvariantCulture, $"notice {notice.HostId} {notice.Type}\n");
        }

        foreach (var host in Aborted)
        {
            text.Append(CultureInfo.InvariantCulture, $"abort {host}\n");
        }

        return text.Append(FileReservationStore.Format(Snapshot)).ToString();
    }

    /// <summary>Parses the text form; <paramref name="source"/> names where it came from in error messages.</summary>
    public static ReservationChange Parse(string text, string source)
    {
        var lines = text.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        if (lines.Length < 2 || lines[0] != Magic)
        {
            throw new InvalidDataException($"{source}: not a reservation change (first line must be '{Magic}')");
        }

        ulong? version = null;
        var notices = new List<ReservationNotice>();
        var aborted = new List<Guid>();
        var i = 1;
        for (; i < lines.Length && lines[i] != StateMagic; i++)
        {
            var parts = lines[i].Split(' ', StringSplitOptions.RemoveEmptyEntries);
            try
            {
                switch (parts[0])
                {
                    case "version":
                        version = ulong.Parse(parts[1], CultureInfo.InvariantCulture);
                        break;
                    case "notice":
                        var type = byte.Parse(parts[2], CultureInfo.InvariantCulture);
                        notices.Add(type is >= 1 and <= 3
                            ? new ReservationNotice(Guid.Parse(parts[1], CultureInfo.InvariantCulture), type)
                            : throw new FormatException($"notice type {type} (1..3)"));
                        break;
                    case "abort":
                        aborted.Add(Guid.Parse(parts[1], CultureInfo.InvariantCulture));
                        break;
                    default:
                        throw new FormatException($"unknown key '{parts[0]}'");
                }
            }
            catch (Exception ex) when (ex is FormatException or IndexOutOfRangeException or OverflowException or ArgumentException)
            {
                throw new InvalidDataException($"{source}:{i + 1}: {ex.Message}", ex);
            }
        }

        if (version is null || i == lines.Length)
        {
            throw new InvalidDataException($"{source}: a reservation change needs a 'version' line and the state after it");
        }

        return new ReservationChange(version.Value, FileReservationStore.Parse(lines[i..], source), notices, aborted);
    }
}

/// <summary>
/// A reservation store several gateways share (an object in Ceph beside the RBD image): versioned compare-and-set
/// writes, so a change made on one gateway is never lost to a concurrent change on another, and a broadcast of each
/// change, so every gateway enforces it before the command that made it completes.
/// </summary>
public interface ISharedReservationStore : IReservationStore
{
    /// <summary>The stored state and its version (<see cref="ReservationChange.Initial"/> when nothing was saved).</summary>
    ReservationChange LoadVersioned();

    /// <summary>
    /// Stores <paramref name="snapshot"/> as version <paramref name="expectedVersion"/> + 1 if the stored version is
    /// still <paramref name="expectedVersion"/>; false (nothing written) when another gateway changed it first.
    /// </summary>
    bool TryWrite(ReservationSnapshot snapshot, ulong expectedVersion);

    /// <summary>Tells every other gateway of <paramref name="change"/>; returns when all applied it or a timeout passed.</summary>
    void Broadcast(ReservationChange change);

    /// <summary>Starts delivering other gateways' changes and the freshness of this gateway's copy to <paramref name="listener"/>.</summary>
    void Start(IReservationChangeListener listener);
}

/// <summary>What a gateway's namespace learns from its <see cref="ISharedReservationStore"/>.</summary>
public interface IReservationChangeListener
{
    /// <summary>
    /// Another gateway made <paramref name="change"/>. Called on a librados thread: must not block. The listener calls
    /// <paramref name="applied"/> (once, from any thread) when the change is enforced here, aborted commands included.
    /// </summary>
    void OnRemoteChange(ReservationChange change, Action applied);

    /// <summary>The copy is known to be current until <paramref name="tickCount64"/> (<see cref="Environment.TickCount64"/>).</summary>
    void OnFreshUntil(long tickCount64);
}
