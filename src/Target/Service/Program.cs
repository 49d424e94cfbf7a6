using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using NvmeMptls.Target.Configuration;
using NvmeMptls.Target.Hosting;

namespace NvmeMptls.Target;

public static class Program
{
    public static async Task<int> Main(string[] args)
    {
        // Before any socket exists: socket completions run on the epoll thread (see SocketEngineSettings).
        NvmeMptls.Transport.Sockets.SocketEngineSettings.PreferInlineCompletions();

        // JSON sources are watched: an edited configuration file is applied without a restart (TargetService).
        var parsed = TargetCommandLine.Parse(args, environment: null, reloadOnChange: true);
        if (parsed.HelpRequested)
        {
            await Console.Out.WriteLineAsync(TargetCommandLine.HelpText).ConfigureAwait(false);
            return 0;
        }

        if (!parsed.Succeeded)
        {
            foreach (var error in parsed.Errors)
            {
                await Console.Error.WriteLineAsync($"nvme-mptls-target: {error}").ConfigureAwait(false);
            }

            return 2;
        }

        var builder = new HostApplicationBuilder(new HostApplicationBuilderSettings
        {
            DisableDefaults = true,
            ContentRootPath = AppContext.BaseDirectory,
        });
        if (parsed.Configuration is { } configuration)
        {
            builder.Configuration.AddConfiguration(configuration);
        }

        if (UnderSystemd())
        {
            // journald adds its own timestamps; the systemd formatter writes <N> syslog priority prefixes.
            builder.Logging.AddSystemdConsole(o => o.IncludeScopes = false);
        }
        else
        {
            builder.Logging.AddSimpleConsole(o =>
            {
                o.SingleLine = true;
                o.TimestampFormat = "HH:mm:ss.fff ";
            });
        }
        builder.Logging.SetMinimumLevel(LogLevel.Information);
        builder.Services.AddSystemd();
        builder.Services.AddSingleton(TimeProvider.System);
        builder.Services.AddTargetOptions(builder.Configuration, parsed.ApplyFlags);
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = parsed.Options!.ShutdownGracePeriod + TimeSpan.FromSeconds(15));
        builder.Services.AddHostedService<TargetService>();

        try
        {
            using var host = builder.Build();
            await host.RunAsync().ConfigureAwait(false);
            return 0;
        }
        catch (TargetConfigurationException ex)
        {
            await Console.Error.WriteLineAsync($"nvme-mptls-target: {ex.Message}").ConfigureAwait(false);
            return 2;
        }
        catch (Exception ex) when (ex is System.Net.Sockets.SocketException or IOException or InvalidDataException or UnauthorizedAccessException or System.Net.HttpListenerException)
        {
            await Console.Error.WriteLineAsync($"nvme-mptls-target: cannot start: {ex.Message}").ConfigureAwait(false);
            return 1;
        }
    }

    /// <summary>Started by systemd (a unit sets INVOCATION_ID; JOURNAL_STREAM when stdout goes to the journal).</summary>
    private static bool UnderSystemd() =>
        !string.IsNullOrEmpty(Environment.GetEnvironmentVariable("INVOCATION_ID")) ||
        !string.IsNullOrEmpty(Environment.GetEnvironmentVariable("JOURNAL_STREAM"));
}
