using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using NvmeMptls.Target.Configuration;
using NvmeMptls.Target.Namespaces;

namespace NvmeMptls.Target.Hosting;

/// <summary>Opens the storage a configured namespace describes.</summary>
public static partial class BlockDeviceFactory
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
            NamespaceBacking.File => FileBlockDevice.Open(RequirePath(options), options.SizeBytes, options.LbaSize, options.ReadOnly, logger, options.IoEngine),
            NamespaceBacking.Block => BlockDeviceBackend.Open(RequirePath(options), options.SizeBytes, options.LbaSize, options.ReadOnly, logger, options.IoEngine),
            NamespaceBacking.Rbd => OpenRbd(options, logger),
            _ => throw new ArgumentException($"unknown backing {options.Backing}", nameof(options)),
        };

        Log.NamespaceOpened(logger, device.Kind, options.Nsid, device.Description, device.SizeBytes, device.LogicalBlockSize);
        return device;
    }

    private static RbdBlockDevice OpenRbd(NamespaceOptions options, ILogger logger)
    {
        RbdOptions rbd = options.Rbd ?? throw new ArgumentException($"rbd namespace {options.Nsid} needs Rbd:Pool and Rbd:Image", nameof(options));
        var location = new RbdImageLocation(rbd.Pool, rbd.Image, rbd.RadosNamespace, rbd.CephConf, rbd.CephId, rbd.Keyring, rbd.Cache);
        return RbdBlockDevice.Open(location, options.LbaSize, options.ReadOnly, logger: logger);
    }

    private static string RequirePath(NamespaceOptions options) =>
        string.IsNullOrWhiteSpace(options.Path)
            ? throw new ArgumentException($"{options.Backing.ToString().ToLowerInvariant()} namespace {options.Nsid} needs a path", nameof(options))
            : options.Path;

    private static partial class Log
    {
        [LoggerMessage(EventId = 5011, Level = LogLevel.Information, Message = "Opened {Kind} namespace {Nsid} on {Description}: {SizeBytes} bytes, LBA {LbaSize}")]
        public static partial void NamespaceOpened(ILogger logger, string kind, uint nsid, string description, long sizeBytes, int lbaSize);
    }
}
