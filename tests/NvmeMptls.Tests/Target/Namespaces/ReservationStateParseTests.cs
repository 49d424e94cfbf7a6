using NvmeMptls.Target.Namespaces;
using NvmeMptls.Target.Subsystems;
using NvmeMptls.Transport.Nvme;

namespace NvmeMptls.Tests.Target.Namespaces;

/// <summary>
/// The reservation state text (state file and RBD metadata value): a state NamespaceReservations could never have
/// saved is refused with a message naming the source, the line and the problem, instead of being loaded half-right.
/// Each case is also a fuzz input under fuzz/corpus/reservation-state (regress-*).
/// </summary>
public sealed class ReservationStateParseTests
{
    private const string A = "aaaaaaaa-1111-2222-3333-444444444444";
    private const string B = "bbbbbbbb-1111-2222-3333-444444444444";
    private const string Source = "rbd/pr metadata nvmemptls.reservations";

    private static ReservationSnapshot Parse(string text) => RbdReservationStore.Parse(text, Source);

    [TestCase($"nvmemptls-reservations 1\nptpl 1\nregistrant {A} 0x01\nregistrant {A} 0x02\n", ":4: registrant " + A + " listed twice")]
    [TestCase($"nvmemptls-reservations 1\nptpl 1\nregistrant {A} 1234\n", ":3: registrant key '1234'")]
    [TestCase($"nvmemptls-reservations 1\nptpl yes\n", ":2: ptpl 'yes'")]
    [TestCase($"nvmemptls-reservations 1\ntype 1\nholder {B}\nptpl 1\nregistrant {A} 0x01\n", $": reservation type 1 held by {B}, which is not a registrant")]
    [TestCase("nvmemptls-reservations 1\ntype 5\nptpl 1\n", ": reservation type 5 held by 00000000-0000-0000-0000-000000000000, which is not a registrant")]
    public void ImpossibleState_IsRefusedNamingTheProblem(string text, string message)
    {
        var ex = Assert.Throws<InvalidDataException>(() => Parse(text));
        Assert.That(ex!.Message, Does.StartWith(Source).And.Contain(message));
    }

    [Test]
    public void AllRegistrantsReservation_KeepsAHolderThatLeft()
    {
        // An All Registrants reservation outlives the registrant that acquired it while others remain (§8.19.1).
        var state = Parse($"nvmemptls-reservations 1\ngeneration 3\ntype 6\nholder {A}\nptpl 1\nregistrant {B} 0x00000000000000bb\n");
        Assert.Multiple(() =>
        {
            Assert.That(state.Type, Is.EqualTo(ReservationType.ExclusiveAccessAllRegistrants));
            Assert.That(state.Registrants, Is.EqualTo(new[] { new KeyValuePair<Guid, ulong>(Guid.Parse(B), 0xbb) }));
            Assert.That(Parse(FileReservationStore.Format(state)).Registrants, Is.EqualTo(state.Registrants));
        });
    }

    [Test]
    public void FileStore_AnOversizedFileIsRefusedBeforeItIsRead()
    {
        var path = Path.Combine(Path.GetTempPath(), $"nvmemptls-pr-{Guid.NewGuid():N}");
        try
        {
            using (var file = File.Create(path))
            {
                file.Write("nvmemptls-reservations 1\n"u8);
                file.SetLength(FileReservationStore.MaxBytes + 1L);
            }

            var ex = Assert.Throws<InvalidDataException>(() => new FileReservationStore(path).Load());
            Assert.That(ex!.Message, Does.StartWith(path).And.Contain("larger than"));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Test]
    public void RbdValue_IsReadUpToTheNul()
    {
        var bytes = "nvmemptls-reservations 1\ngeneration 9\n\0garbage"u8.ToArray();
        Assert.That(Parse(RbdReservationStore.Decode(bytes, bytes.Length)).Generation, Is.EqualTo(9u));
    }
}
