using NvmeMptls.Target.Configuration;
using NvmeMptls.Target.Hosting;
using NvmeMptls.Target.Namespaces;

namespace NvmeMptls.Tests.Target.Namespaces;

public class BlockDeviceFactoryTests
{
    [Test]
    public async Task BlockDeviceFactory_DefaultNamespace_IsSparseGibMemoryDevice()
    {
        await using IBlockDevice device = BlockDeviceFactory.Open(TargetOptions.Default.Subsystems[0].Namespaces[0]);
        Assert.That(device, Is.InstanceOf<MemoryBlockDevice>());
        Assert.That(device.SizeBytes, Is.EqualTo(1L << 30));
        Assert.That(device.LogicalBlockSize, Is.EqualTo(512));
        Assert.That(((MemoryBlockDevice)device).AllocatedChunks, Is.Zero);
    }

    [Test]
    public async Task BlockDeviceFactory_FileBacking_CreatesFileWithConfiguredGeometry()
    {
        string path = Path.Combine(Path.GetTempPath(), "nvmemptls-factory-" + Guid.NewGuid().ToString("N") + ".img");
        try
        {
            var options = new NamespaceOptions { Backing = NamespaceBacking.File, Path = path, SizeBytes = 8L << 20, LbaSize = 4096 };
            await using IBlockDevice device = BlockDeviceFactory.Open(options);
            Assert.That(device.Kind, Is.EqualTo("file"));
            Assert.That(device.LogicalBlockSize, Is.EqualTo(4096));
            Assert.That(new FileInfo(path).Length, Is.EqualTo(8L << 20));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Test]
    public void BlockDeviceFactory_FileBackingWithoutPath_Throws()
    {
        var options = new NamespaceOptions { Backing = NamespaceBacking.File, Path = null };
        Assert.Throws<ArgumentException>(() => BlockDeviceFactory.Open(options));
    }
}
