using System.Globalization;
using System.Text;
using NvmeMptls.Transport.Nvme;

namespace NvmeMptls.Target.Subsystems;

/// <summary>A namespace's persistent reservation state as it is saved: generation, type, holder, PTPL and the registrants.</summary>
public sealed record ReservationSnapshot(uint Generation, ReservationType Type, Guid Holder, bool PersistThroughPowerLoss, IReadOnlyList<KeyValuePair<Guid, ulong>> Registrants)
{
    public static ReservationSnapshot Empty { get; } = new(0, ReservationType.None, Guid.Empty, false, []);
}

/// <summary>Where a namespace's reservation state lives between restarts (Persist Through Power Loss).</summary>
public interface IReservationStore
{
    /// <summary>The saved state, or <see cref="ReservationSnapshot.Empty"/> when nothing was saved.</summary>
    ReservationSnapshot Load();

    /// <summary>Saves <paramref name="snapshot"/> durably before the command that changed it completes.</summary>
    void Save(ReservationSnapshot snapshot);
}

/// <summary>
/// A small text file (written to a temporary file, flushed and renamed over the old one, so a crash leaves the
/// old or the new state, never half of one):
/// <code>
/// nvmemptls-reservations 1
/// generation 7
/// type 5
/// holder 3f2504e0-4f89-41d3-9a0c-0305e82c3301
/// ptpl 1
/// registrant 3f2504e0-4f89-41d3-9a0c-0305e82c3301 0x1122334455667788
/// </code>
/// </summary>
public sealed class FileReservationStore(string path) : IReservationStore
{
    private const string Magic = "nvmemptls-reservations 1";

    /// <summary>Largest state file read (1 MiB, as for the RBD metadata value): room for thousands of registrants.</summary>
    internal const int MaxBytes = 1 << 20;

    public string Path { get; } = path;

    public ReservationSnapshot Load()
    {
        if (!File.Exists(Path))
        {
            return ReservationSnapshot.Empty;
        }

        // The same bound as the RBD metadata value: a state is a few lines per registrant, never megabytes.
        if (new FileInfo(Path).Length > MaxBytes)
        {
            throw new InvalidDataException($"{Path}: not a reservation state (larger than {MaxBytes} bytes)");
        }

        return Parse(File.ReadAllLines(Path), Path);
    }

    /// <summary>Parses the text form; <paramref name="source"/> names where it came from in error messages.</summary>
    internal static ReservationSnapshot Parse(string[] lines, string source)
    {
        if (lines.Length == 0 || lines[0] != Magic)
        {
            throw new InvalidDataException($"{source}: not a reservation state (first line must be '{Magic}')");
        }

        uint generation = 0;
        var type = ReservationType.None;
        var holder = Guid.Empty;
        var ptpl = false;
        var registrants = new List<KeyValuePair<Guid, ulong>>();
        var seen = new HashSet<Guid>();
        for (var i = 1; i < lines.Length; i++)
        {
            var parts = lines[i].Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (parts.Length == 0)
            {
                continue;
            }

            try
            {
                switch (parts[0])
                {
                    case "generation":
                        generation = uint.Parse(parts[1], CultureInfo.InvariantCulture);
                        break;
                    case "type":
                        var t = byte.Parse(parts[1], CultureInfo.InvariantCulture);
                        type = t == 0 || ReservationTypes.IsDefined(t) ? (ReservationType)t : throw new FormatException($"type {t}");
                        break;
                    case "holder":
                        holder = Guid.Parse(parts[1], CultureInfo.InvariantCulture);
                        break;
                    case "ptpl":
                        ptpl = parts[1] switch { "1" => true, "0" => false, _ => throw new FormatException($"ptpl '{parts[1]}' (0 or 1)") };
                        break;
                    case "registrant":
                        var host = Guid.Parse(parts[1], CultureInfo.InvariantCulture);
                        var key = parts[2].StartsWith("0x", StringComparison.Ordinal)
                            ? ulong.Parse(parts[2].AsSpan(2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture)
                            : throw new FormatException($"registrant key '{parts[2]}' (0x and 16 hex digits)");
                        registrants.Add(seen.Add(host) ? new(host, key) : throw new FormatException($"registrant {host} listed twice"));
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

        // What NamespaceReservations keeps true: a reservation has registrants, and unless every registrant holds it,
        // its holder is one of them (NVMe Base 2.0 §8.19.1).
        if (type != ReservationType.None && (registrants.Count == 0 || !ReservationTypes.AllRegistrantsHold(type) && !seen.Contains(holder)))
        {
            throw new InvalidDataException($"{source}: reservation type {(byte)type} held by {holder}, which is not a registrant");
        }

        return new ReservationSnapshot(generation, type, holder, ptpl, registrants);
    }

    public void Save(ReservationSnapshot snapshot)
    {
        var temporary = Path + ".tmp";
        using (var stream = new FileStream(temporary, FileMode.Create, FileAccess.Write, FileShare.None))
        {
            var bytes = Encoding.ASCII.GetBytes(Format(snapshot));
            stream.Write(bytes);
            stream.Flush(flushToDisk: true);
        }

        File.Move(temporary, Path, overwrite: true);
    }

    /// <summary>The text form (the file's content, and the value of an RBD image's metadata key).</summary>
    internal static string Format(ReservationSnapshot snapshot)
    {
        var text = new StringBuilder(Magic).Append('\n');
        text.Append(CultureInfo.InvariantCulture, $"generation {snapshot.Generation}\n");
        text.Append(CultureInfo.InvariantCulture, $"type {(byte)snapshot.Type}\n");
        text.Append(CultureInfo.InvariantCulture, $"holder {snapshot.Holder}\n");
        text.Append(CultureInfo.InvariantCulture, $"ptpl {(snapshot.PersistThroughPowerLoss ? 1 : 0)}\n");
        foreach (var (host, key) in snapshot.Registrants)
        {
            text.Append(CultureInfo.InvariantCulture, $"registrant {host} 0x{key:x16}\n");
        }

        return text.ToString();
    }
}
