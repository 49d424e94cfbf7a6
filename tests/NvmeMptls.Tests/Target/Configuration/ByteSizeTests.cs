using NvmeMptls.Target.Configuration;

namespace NvmeMptls.Tests.Target.Configuration;

public class ByteSizeTests
{
    [TestCase("4096", 4096L)]
    [TestCase("0", 0L)]
    [TestCase("1GiB", 1L << 30)]
    [TestCase("1G", 1L << 30)]
    [TestCase("1gb", 1L << 30)]
    [TestCase("512MiB", 512L << 20)]
    [TestCase("512M", 512L << 20)]
    [TestCase("64KiB", 64L << 10)]
    [TestCase("64k", 64L << 10)]
    [TestCase("2 TiB", 2L << 40)]
    [TestCase(" 3T ", 3L << 40)]
    [TestCase("1P", 1L << 50)]
    [TestCase("512B", 512L)]
    public void ByteSize_ValidText_ParsesToBinaryBytes(string text, long expected)
    {
        Assert.That(ByteSize.TryParse(text, out long bytes), Is.True);
        Assert.That(bytes, Is.EqualTo(expected));
    }

    [TestCase("")]
    [TestCase("   ")]
    [TestCase("GiB")]
    [TestCase("-1GiB")]
    [TestCase("+4096")]
    [TestCase("1.5GiB")]
    [TestCase("1 GiB extra")]
    [TestCase("12XB")]
    [TestCase("0x1000")]
    [TestCase("9999999999P")]
    [TestCase("9223372036854775808")]
    public void ByteSize_InvalidText_IsRejected(string text)
    {
        Assert.That(ByteSize.TryParse(text, out _), Is.False);
        Assert.Throws<FormatException>(() => ByteSize.Parse(text));
    }

    [TestCase(1L << 30, "1GiB")]
    [TestCase(512L << 20, "512MiB")]
    [TestCase(1536L, "1536")]
    [TestCase(1536L << 10, "1536KiB")]
    [TestCase(0L, "0")]
    public void ByteSize_Format_UsesLargestExactUnitAndRoundTrips(long bytes, string expected)
    {
        Assert.That(ByteSize.Format(bytes), Is.EqualTo(expected));
        Assert.That(ByteSize.Parse(expected), Is.EqualTo(bytes));
    }
}
