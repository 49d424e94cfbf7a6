using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using NvmeMptls.Cli.Output;
using NvmeMptls.Initiator;

namespace NvmeMptls.Cli.Commands;

/// <summary>Connects a verb's controller from its options.</summary>
public static class Session
{
    /// <summary>The connection factory verbs use; the production socket layer replaces it here.</summary>
    public static NvmeQueueConnector? ConnectionFactory { get; set; }

    public static ILogger Logger(VerbContext context) =>
        context.Options.Has("verbose") ? new StderrLogger(context.Error, LogLevel.Debug) : NullLogger.Instance;

    /// <summary>Admin verbs connect without I/O queues unless --nr-io-queues asks for some.</summary>
    public static Task<NvmeController> ConnectAdminAsync(VerbContext context, CancellationToken cancellationToken)
    {
        var options = FabricsOptions.Build(context.Options, FabricsOptions.DefaultPort);
        if (!context.Options.Has("nr-io-queues"))
        {
            options = options with { IoQueueCount = 0 };
        }

        return NvmeController.ConnectAsync(options, ConnectionFactory, Logger(context), cancellationToken);
    }

    public static Task<NvmeController> ConnectIoAsync(VerbContext context, CancellationToken cancellationToken) =>
        NvmeController.ConnectAsync(FabricsOptions.Build(context.Options, FabricsOptions.DefaultPort), ConnectionFactory, Logger(context), cancellationToken);
}
