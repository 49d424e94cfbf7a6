using System.Runtime.InteropServices;
using System.Runtime.Intrinsics.X86;
using NvmeMptls.Target.Namespaces;

namespace NvmeMptls.Tests.Target.Namespaces;

public sealed class StreamingCopyTests
{
    // Every destination offset from a 64-byte boundary (so every value of the 32-byte head, aligned included), with
    // lengths whose body leaves no tail, a short tail, and the longest tail, and a source one byte off alignment.
    [TestCase(4096)]
    [TestCase(4097)]
    [TestCase(4096 + 31)]
    [TestCase(4096 + 127)]
    [TestCase(4096 + 159)]
    [TestCase(131072)]
    public void Copy_EveryDestinationOffsetInALine_BytesExactAndNothingAroundTouched(int length)
    {
        Assume.That(Avx.IsSupported, "without AVX every copy is an ordinary one: the streamed path is not reached here");
        const int Slack = 64;
        var random = new Random(length);
        byte[] source = new byte[length + 1];
        random.NextBytes(source);

        // A pinned array (it never moves) entered at its first 64-byte boundary.
        byte[] pinned = GC.AllocateUninitializedArray<byte>(length + (2 * Slack) + 128, pinned: true);
        long address = Marshal.UnsafeAddrOfPinnedArrayElement(pinned, 0).ToInt64();
        var memory = pinned.AsSpan((int)((64 - (address & 63)) & 63), length + (2 * Slack) + 64);
        for (int offset = 0; offset < 64; offset++)
        {
            memory.Fill(0xA5);
            StreamingCopy.Copy(source.AsSpan(1, length), memory.Slice(Slack + offset, length + 7));
            Assert.That(memory.Slice(Slack + offset, length).SequenceEqual(source.AsSpan(1, length)), Is.True, $"offset {offset}");
            Assert.That(memory[..(Slack + offset)].IndexOfAnyExcept((byte)0xA5), Is.EqualTo(-1), $"before, offset {offset}");
            Assert.That(memory[(Slack + offset + length)..].IndexOfAnyExcept((byte)0xA5), Is.EqualTo(-1), $"after, offset {offset}");
        }
    }

    [Test]
    public void Copy_BelowTheThreshold_AnOrdinaryCopy()
    {
        byte[] source = new byte[StreamingCopy.MinLength - 1];
        new Random(7).NextBytes(source);
        byte[] destination = new byte[source.Length + 3];
        StreamingCopy.Copy(source, destination.AsSpan(3));
        Assert.That(destination.AsSpan(3).SequenceEqual(source), Is.True);
    }

    // A destination starting after the source and inside it is the case a forward streamed copy would corrupt.
    [TestCase(32)]
    [TestCase(100)]
    [TestCase(4000)]
    public void Copy_DestinationInsideTheSource_KeepsMemmoveSemantics(int shift)
    {
        byte[] buffer = new byte[16384];
        new Random(shift).NextBytes(buffer);
        byte[] expected = (byte[])buffer.Clone();
        int from = 4096, to = from + shift;
        expected.AsSpan(from, 8192).CopyTo(expected.AsSpan(to, 8192));

        StreamingCopy.Copy(buffer.AsSpan(from, 8192), buffer.AsSpan(to, 8192));

        Assert.That(buffer, Is.EqualTo(expected));
    }

    [TestCase(100)]
    [TestCase(8192)]
    public void Copy_DestinationShorterThanSource_RefusedTheSameWayAtAnyLength(int length) =>
        Assert.That(() => StreamingCopy.Copy(new byte[length], new byte[length - 1]),
            Throws.TypeOf<ArgumentException>().With.Message.Contains("destination holds"));
}
