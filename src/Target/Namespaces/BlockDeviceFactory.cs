using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using NvmeMptls.Target.Configuration;

namespace NvmeMptls.Target.Namespaces;

/// <summary>Opens the storage a configured namespace describes.</summary>
public static class BlockDeviceFactory
{
    public static IBlockDevice Open(NamespaceOptions options, ILoggerFactory? loggerFactory = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ILogger logger = loggerFactory?.CreateLogger(typeof(BlockDeviceFactory)) ?? NullLogger.Instance;
        IBlockDevice device = options.Backing switch
        {
            NamespaceBacking.Memory => new MemoryBlockDevice(
                options.SizeBytes ?? throw new ArgumentException($"memory namespace {options.Nsid} needs a size", nameof(options)),
                options.LbaSize),
            NamespaceBacking.File => FileBlockDevice.Open(RequirePath(options), options.SizeBytes, options.LbaSize, options.ReadOnly, logger),
            NamespaceBacking.Block => BlockDeviceBackend.Open(RequirePath(options), options.SizeBytes, options.LbaSize, options.ReadOnly, logger),
            _ => throw new ArgumentException($"unknown backing {options.Backing}", nameof(options)),
        };

        NamespaceLog.NamespaceOpened(logger, device.Kind, options.Nsid, device.Description, device.SizeBytes, device.LogicalBlockSize);
        return device;
    }

    private static string RequirePath(NamespaceOptions options) =>
        string.IsNullOrWhiteSpace(options.Path)
            ? throw new ArgumentException($"{options.Backing.ToString().ToLowerInvariant()} namespace {options.Nsid} needs a path", nameof(options))
            : options.Path;
}
