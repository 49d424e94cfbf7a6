using NvmeMptls.Target.Namespaces;
using NvmeMptls.TestKit;

namespace NvmeMptls.Tests.Target.Namespaces;

/// <summary>Each device says itself whether its calls complete without blocking (the target keeps those on the receiving thread).</summary>
public sealed class CompletesInlineTests
{
    [Test]
    public async Task MemoryDevice_CompletesInline()
    {
        await using var device = new MemoryBlockDevice(1 << 20);
        Assert.That(device.CompletesInline, Is.True);
    }

    [Test]
    public async Task FaultyMemoryDevice_CompletesInline_AndNoLongerClaimsToBeMemory()
    {
        await using var device = new FaultyBlockDevice(1 << 20);
        Assert.That(device.CompletesInline, Is.True);
        Assert.That(device.Kind, Is.Not.EqualTo("memory"));
    }

    [Test]
    public async Task FileDevice_Positional_DoesNotCompleteInline()
    {
        var path = Path.Combine(Path.GetTempPath(), "nvmemptls-inline-" + Guid.NewGuid().ToString("N") + ".img");
        try
        {
            await using var device = FileBlockDevice.Open(path, 1 << 20, engine: IoEngine.Positional);
            Assert.That(device.CompletesInline, Is.False);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Test]
    public async Task FileDevice_IoUring_CompletesInline()
    {
        var path = Path.Combine(IoUringTestDirectory.Root, "nvmemptls-inline-" + Guid.NewGuid().ToString("N") + ".img");
        try
        {
            await using var device = FileBlockDevice.Open(path, 1 << 20, engine: IoEngine.IoUring);
            if (!device.UsesIoUring)
            {
                Assert.Ignore(device.Engine);
            }

            Assert.That(device.CompletesInline, Is.True, "a call only queues a submission; the reaping thread completes it");
        }
        finally
        {
            File.Delete(path);
        }
    }
}
