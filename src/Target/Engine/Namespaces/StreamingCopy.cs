using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace NvmeMptls.Target.Namespaces;

/// <summary>
/// Copies a write's data into a memory namespace's chunk with non-temporal stores (<c>vmovntdq</c>). The destination's
/// cache lines are written whole, without first being read in for ownership, and the copy does not push the
/// connection's hot buffers out of the cache. Data written this way is not in the cache afterwards, which costs a read
/// of the same place right after the write a miss; a namespace of more than a few MiB takes that miss anyway.
/// Measured on the development VM under <c>spdk_nvme_perf</c>, filled 1 GiB namespace, six batches of four interleaved
/// pairs in both orders: 1.01–1.10× the IOPS at 4 KiB randwrite QD32 (medians per batch; 19 of the 24 pairs ahead),
/// target CPU per I/O 0.90–0.99×, and 1.00–1.04× at 128 KiB write in four of those batches
/// (bench/results/copies-tried-20261207-night.md). The destination is aligned to 32 bytes, not to the 64-byte line, so a
/// copy's first and last lines are partly ordinary stores; chunks are not line-aligned arrays. Only on x86 with AVX,
/// and only from <see cref="MinLength"/> bytes; anything else is an ordinary copy.
/// </summary>
internal static class StreamingCopy
{
    /// <summary>The shortest copy that streams: what was measured. Below it the head and tail around whole lines dominate.</summary>
    public const int MinLength = 4096;

    /// <summary>
    /// Copies <paramref name="source"/> into the start of <paramref name="destination"/> (at least as long). The streamed
    /// stores are fenced before this returns: a store the caller makes next (a seqlock's release) is seen after them.
    /// </summary>
    public static unsafe void Copy(ReadOnlySpan<byte> source, Span<byte> destination)
    {
        if (destination.Length < source.Length)
        {
            throw new ArgumentException($"the destination holds {destination.Length} bytes, the source {source.Length}", nameof(destination));
        }
        if (source.Length < MinLength || !Avx.IsSupported || source.Overlaps(destination))
        {
            source.CopyTo(destination); // an overlap (never a pooled buffer and a chunk) keeps memmove's semantics
            return;
        }

        destination = destination[..source.Length];
        fixed (byte* src = source)
        fixed (byte* dst = destination)
        {
            // The head, up to the destination's 32-byte boundary, is an ordinary copy: vmovntdq needs the store aligned.
            int head = (int)((32 - ((nuint)dst & 31)) & 31);
            source[..head].CopyTo(destination);
            int body = (source.Length - head) & ~127;
            byte* s = src + head;
            byte* d = dst + head;
            for (int i = 0; i < body; i += 128)
            {
                Vector256<byte> a = Avx.LoadVector256(s + i);
                Vector256<byte> b = Avx.LoadVector256(s + i + 32);
                Vector256<byte> c = Avx.LoadVector256(s + i + 64);
                Vector256<byte> e = Avx.LoadVector256(s + i + 96);
                Avx.StoreAlignedNonTemporal(d + i, a);
                Avx.StoreAlignedNonTemporal(d + i + 32, b);
                Avx.StoreAlignedNonTemporal(d + i + 64, c);
                Avx.StoreAlignedNonTemporal(d + i + 96, e);
            }

            source[(head + body)..].CopyTo(destination[(head + body)..]);

            // Non-temporal stores are weakly ordered: without the fence a later plain store (the stripe's release in
            // MemoryBlockDevice) could become visible first, and a reader could take the old bytes as current. (At the
            // start no fence is needed: the stripe's compare-and-swap is a locked instruction, which later stores,
            // streamed ones included, do not pass; Intel SDM vol. 3 §9.2.2.) No test can catch a missing fence: the
            // window is one drain of the write-combining buffers, so the ordering rests on this reasoning.
            Sse.StoreFence();
        }
    }
}
