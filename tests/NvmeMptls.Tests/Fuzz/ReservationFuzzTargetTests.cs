using NvmeMptls.Fuzz;
using NvmeMptls.Transport.Nvme;

namespace NvmeMptls.Tests.Fuzz;

/// <summary>The reservation fuzz targets' seeds reach what they are meant to: every reservation command runs and succeeds.</summary>
public sealed class ReservationFuzzTargetTests
{
    private static IEnumerable<TestCaseData> IoSeeds() =>
        SeedCorpus.All().Where(s => s.Target == "reservation-io").Select(s => new TestCaseData(s.Bytes).SetName($"ReservationIoSeed_EveryCommandSucceeds_{s.Name}"));

    [TestCaseSource(nameof(IoSeeds))]
    public void ReservationIoSeed_EveryCommandSucceeds(byte[] seed)
    {
        var completions = ReservationIoTarget.Completions(seed);

        // Connect of I/O queue 1 (command 1 of the prefix), then the seed's commands 1..n in order.
        Assert.That(completions, Has.Count.GreaterThan(6));
        Assert.That(completions.Select(c => c.Status), Is.All.EqualTo(NvmeStatus.Success), string.Join(", ", completions.Select(c => $"{c.CommandId}:{c.Status}")));
    }

    [Test]
    public void ReservationIo_AReservationConflictIsReported()
    {
        // Acquire without registering first: the target answers Reservation Conflict, the input still runs to its end.
        var seed = SeedCorpus.All().First(s => s.Target == "reservation-io").Bytes;
        var capsule = 8 + 64 + 16; // the first capsule: header, SQE, 16 bytes of keys
        var completions = ReservationIoTarget.Completions(seed[capsule..]);
        Assert.That(completions[1].Status, Is.EqualTo(NvmeStatus.Make(0, 0x83, dnr: true)), "Acquire by a host that is not registered");
    }
}
