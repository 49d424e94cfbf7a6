using NvmeMptls.Initiator.LoadGen;

namespace NvmeMptls.Tests.Bench;

public sealed class BenchReportTests
{
    [Test]
    public void Percentiles_OfUniformDistribution_AreWithinHistogramPrecision()
    {
        var recorder = new BenchRecorder();
        for (var value = 1L; value <= 1_000_000; value++)
        {
            recorder.Record(value * 10, 4096);
        }

        var histogram = new HdrHistogram.LongHistogram(1, BenchRecorder.HighestNs, 3);
        histogram.Add(recorder.Latency);
        var result = new BenchDirectionResult(histogram, recorder.Ios, recorder.Bytes, 0, recorder.MinNs, recorder.MaxNs, TimeSpan.FromSeconds(2));
        Assert.Multiple(() =>
        {
            foreach (var p in BenchDirectionResult.Percentiles)
            {
                var expected = p / 100 * 10_000_000;
                Assert.That(result.PercentileNs(p), Is.EqualTo(expected).Within(expected * 0.001 + 10), $"p{p}");
            }

            Assert.That(result.MinNs, Is.EqualTo(10));
            Assert.That(result.MaxNs, Is.EqualTo(10_000_000));
            Assert.That(result.MeanNs, Is.EqualTo(5_000_005).Within(5_000));
            Assert.That(result.StdDevNs, Is.EqualTo(2_886_751).Within(3_000));
            Assert.That(result.Iops, Is.EqualTo(500_000).Within(1));
            Assert.That(result.BandwidthBytes, Is.EqualTo(500_000.0 * 4096).Within(1));
        });
    }

    [Test]
    public void Crc32C_MatchesKnownAnswer()
    {
        // RFC 3720 B.4: CRC32C of 32 bytes of zeroes is 0x8A9136AA; of "123456789" is 0xE3069283.
        Assert.Multiple(() =>
        {
            Assert.That(BenchVerifier.Crc32C(new byte[32]), Is.EqualTo(0x8A9136AAu));
            Assert.That(BenchVerifier.Crc32C("123456789"u8), Is.EqualTo(0xE3069283u));
        });
    }

    [Test]
    public void VerifyHeader_RoundTrips_AndDetectsWrongOffsetAndStaleGeneration()
    {
        var block = new byte[4096];
        BenchVerifier.Fill(block, 8192, 7, 3);
        Assert.Multiple(() =>
        {
            Assert.That(BenchVerifier.Check(block, 8192, 7, out var unwritten), Is.EqualTo(VerifyFailure.None));
            Assert.That(unwritten, Is.False);
            Assert.That(BenchVerifier.Check(block, 4096, 7, out _), Is.EqualTo(VerifyFailure.WrongOffset));
            Assert.That(BenchVerifier.Check(block, 8192, 8, out _), Is.EqualTo(VerifyFailure.StaleGeneration));
            Assert.That(BenchVerifier.Check(new byte[4096], 8192, 0, out var empty), Is.EqualTo(VerifyFailure.None));
            Assert.That(empty, Is.True);
            Assert.That(BenchVerifier.Check(new byte[4096], 8192, 5, out _), Is.EqualTo(VerifyFailure.BadMagic));
        });
    }
}
