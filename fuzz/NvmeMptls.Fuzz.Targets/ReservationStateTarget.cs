using NvmeMptls.Target.Namespaces;
using NvmeMptls.Target.Subsystems;
using NvmeMptls.Transport.Nvme;

namespace NvmeMptls.Fuzz;

/// <summary>
/// The persistent reservation state parser, in both forms it is read from: input byte 0 picks a state file
/// (<c>Namespaces[]:ReservationStateFile</c>, read by <see cref="FileReservationStore.Load"/> from a real file), or
/// the RBD image metadata value <c>nvmemptls.reservations</c> as librbd hands it over (bytes up to the NUL, then
/// <see cref="RbdReservationStore"/>'s parse). Bad text must end as <see cref="InvalidDataException"/> with a message
/// naming the source; a state that loads must format and re-parse to the same state, and load into
/// <see cref="NamespaceReservations"/> (its report shows exactly that state).
/// </summary>
public static class ReservationStateTarget
{
    private const string Source = "fuzz metadata nvmemptls.reservations";
    private static readonly string s_path = Path.Combine(Path.GetTempPath(), $"nvmemptls-fuzz-reservations-{Environment.ProcessId}");

    public static void Run(byte[] input)
    {
        if (input.Length == 0)
        {
            return;
        }

        var body = input[1..];
        ReservationSnapshot state;
        try
        {
            if (input[0] % 2 == 0)
            {
                File.WriteAllBytes(s_path, body);
                try
                {
                    state = new FileReservationStore(s_path).Load();
                }
                finally
                {
                    File.Delete(s_path);
                }
            }
            else
            {
                state = RbdReservationStore.Parse(RbdReservationStore.Decode(body, body.Length), Source);
            }
        }
        catch (InvalidDataException ex)
        {
            if (!ex.Message.StartsWith(input[0] % 2 == 0 ? s_path : Source, StringComparison.Ordinal) || ex.Message.Length <= s_path.Length + 2)
            {
                throw new InvalidOperationException($"a refusal that does not name its source and the problem: '{ex.Message}'", ex);
            }

            return;
        }

        var text = FileReservationStore.Format(state);
        var again = RbdReservationStore.Parse(text, Source);
        if (!Same(state, again) || FileReservationStore.Format(again) != text)
        {
            throw new InvalidOperationException("a loaded reservation state does not survive formatting and parsing again");
        }

        CheckLoaded(state);
    }

    /// <summary>The state as the namespace holds it after a restart (it keeps a saved state only with PTPL set).</summary>
    private static void CheckLoaded(ReservationSnapshot state)
    {
        var reservations = new NamespaceReservations(new SnapshotStore(state));
        var report = reservations.Report(_ => 1);
        if (!state.PersistThroughPowerLoss)
        {
            if (report.Registrants.Count != 0 || report.Type != ReservationType.None)
            {
                throw new InvalidOperationException("a state without PTPL was kept");
            }

            return;
        }

        var expected = new Dictionary<Guid, ulong>();
        foreach (var (host, key) in state.Registrants)
        {
            if (!expected.TryAdd(host, key))
            {
                throw new InvalidOperationException($"registrant {host} loaded twice");
            }
        }

        if (report.Generation != state.Generation || report.Type != state.Type || report.Registrants.Count != expected.Count)
        {
            throw new InvalidOperationException("the namespace's report differs from the loaded state");
        }

        foreach (var r in report.Registrants)
        {
            var holds = state.Type != ReservationType.None && (r.HostId == state.Holder || ReservationTypes.AllRegistrantsHold(state.Type));
            if (!expected.TryGetValue(r.HostId, out var key) || key != r.Key || holds != r.HoldsReservation)
            {
                throw new InvalidOperationException($"the namespace's report differs from the loaded state for {r.HostId}");
            }
        }

        if (state.Type != ReservationType.None && !report.Registrants.Any(r => r.HoldsReservation))
        {
            throw new InvalidOperationException("a loaded reservation that no registrant holds");
        }
    }

    private static bool Same(ReservationSnapshot a, ReservationSnapshot b) =>
        a.Generation == b.Generation && a.Type == b.Type && a.Holder == b.Holder && a.PersistThroughPowerLoss == b.PersistThroughPowerLoss
        && a.Registrants.SequenceEqual(b.Registrants);

    private sealed class SnapshotStore(ReservationSnapshot state) : IReservationStore
    {
        public ReservationSnapshot Load() => state;

        public void Save(ReservationSnapshot snapshot)
        {
        }
    }
}
