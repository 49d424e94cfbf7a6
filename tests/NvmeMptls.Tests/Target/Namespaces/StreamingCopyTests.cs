using NvmeMptls.Target.Namespaces;

namespace NvmeMptls.Tests.Target.Namespaces;

public sealed class StreamingCopyTests
{
    // Lengths below, at and above the threshold, with heads and tails that are not whole 128-byte blocks, into every
    // misalignment of the destination that matters (0–32) and a misaligned source.
    [TestCase(4095, 0, 0)]
    [TestCase(4096, 0, 0)]
    [TestCase(4096, 1, 0)]
    [TestCase(4097, 31, 3)]
    [TestCase(4223, 32, 7)]
    [TestCase(65569, 17, 1)]
    [TestCase(131072, 5, 0)]
    [TestCase(131072, 0, 9)]
    public void Copy_AnyLengthAndAlignment_BytesExactAndNothingAroundTouched(int length, int destinationOffset, int sourceOffset)
    {
        var random = new Random(length ^ (destinationOffset << 20) ^ (sourceOffset << 25));
        byte[] source = new byte[length + sourceOffset];
        random.NextBytes(source);
        byte[] destination = new byte[length + destinationOffset + 64];
        destination.AsSpan().Fill(0xA5);

        StreamingCopy.Copy(source.AsSpan(sourceOffset, length), destination.AsSpan(destinationOffset, length + 7));

        Assert.Multiple(() =>
        {
            Assert.That(destination.AsSpan(destinationOffset, length).SequenceEqual(source.AsSpan(sourceOffset, length)), Is.True);
            Assert.That(destination.AsSpan(0, destinationOffset).IndexOfAnyExcept((byte)0xA5), Is.EqualTo(-1), "bytes before the destination");
            Assert.That(destination.AsSpan(destinationOffset + length).IndexOfAnyExcept((byte)0xA5), Is.EqualTo(-1), "bytes after the copied length");
        });
    }

    [TestCase(0)]
    [TestCase(100)]
    [TestCase(-100)]
    public void Copy_OverlappingSpans_KeepsMemmoveSemantics(int shift)
    {
        byte[] buffer = new byte[16384];
        new Random(shift).NextBytes(buffer);
        byte[] expected = (byte[])buffer.Clone();
        int from = 4096, to = from + shift;
        expected.AsSpan(from, 8192).CopyTo(expected.AsSpan(to, 8192));

        StreamingCopy.Copy(buffer.AsSpan(from, 8192), buffer.AsSpan(to, 8192));

        Assert.That(buffer, Is.EqualTo(expected));
    }

    [Test]
    public void Copy_DestinationShorterThanSource_Refused() =>
        Assert.That(() => StreamingCopy.Copy(new byte[8192], new byte[8191]), Throws.InstanceOf<ArgumentOutOfRangeException>().Or.InstanceOf<ArgumentException>());
}
