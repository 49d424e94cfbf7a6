using Microsoft.Extensions.Logging;

namespace NvmeMptls.Cli.Mount;

internal static partial class MountLog
{
    [LoggerMessage(EventId = 7501, Level = LogLevel.Information, Message = "Mounted {MountPoint} from {Device} via {Method}")]
    public static partial void Mounted(ILogger logger, string mountPoint, string device, string method);

    [LoggerMessage(EventId = 7502, Level = LogLevel.Information, Message = "Unmounted {MountPoint}")]
    public static partial void Unmounted(ILogger logger, string mountPoint);

    [LoggerMessage(EventId = 7503, Level = LogLevel.Warning, Message = "Rollback step '{Step}' failed")]
    public static partial void RollbackStepFailed(ILogger logger, string step, Exception exception);
}
