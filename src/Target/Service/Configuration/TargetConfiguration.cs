using System.Collections.Immutable;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace NvmeMptls.Target.Configuration;

/// <summary>
/// Loading <see cref="TargetOptions"/> from an <see cref="IConfiguration"/>: read, apply overrides (command-line
/// flags), resolve derived identifiers, validate. Also the standard sources in precedence order and the
/// IOptions / IOptionsMonitor registration for the host.
/// </summary>
public static partial class TargetConfiguration
{
    /// <summary>Environment variables with this prefix are configuration: NVMEMPTLS_Target__Ports__0__Port=4421.</summary>
    public const string EnvironmentPrefix = "NVMEMPTLS_";

    public const string AppSettingsFileName = "appsettings.json";

    /// <summary>Loads and validates; throws <see cref="TargetConfigurationException"/> listing every problem.</summary>
    public static TargetOptions Load(IConfiguration configuration, Func<TargetOptions, TargetOptions>? overrides = null) =>
        TryLoad(configuration, out TargetOptions? options, out ImmutableArray<string> errors, overrides)
            ? options
            : throw new TargetConfigurationException(errors);

    public static bool TryLoad(
        IConfiguration configuration,
        [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out TargetOptions? options,
        out ImmutableArray<string> errors,
        Func<TargetOptions, TargetOptions>? overrides = null)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        var problems = new List<string>();
        TargetOptions read = TargetOptionsReader.Read(configuration, problems);
        if (overrides is not null)
        {
            read = overrides(read);
        }

        TargetOptions resolved = read.Resolve();
        TargetOptionsValidator.Validate(resolved, problems);
        errors = [.. problems];
        options = problems.Count == 0 ? resolved : null;
        return options is not null;
    }

    /// <summary>Validates options built in code (e.g. <c>TargetOptions.Default with { ... }</c>).</summary>
    public static TargetOptions Validate(TargetOptions options)
    {
        var problems = new List<string>();
        TargetOptions resolved = options.Resolve();
        TargetOptionsValidator.Validate(resolved, problems);
        return problems.Count == 0 ? resolved : throw new TargetConfigurationException(problems);
    }

    /// <summary>
    /// Adds, lowest precedence first: appsettings.json beside the binary (if present), <paramref name="configFile"/>
    /// (required when given), then NVMEMPTLS_ environment variables — from <paramref name="environment"/> when
    /// given (tests), else from the process. Anything not configured falls back to the built-in default.
    /// </summary>
    public static IConfigurationBuilder AddTargetSources(
        this IConfigurationBuilder builder,
        string? configFile = null,
        bool reloadOnChange = false,
        IEnumerable<KeyValuePair<string, string?>>? environment = null,
        string? appSettingsDirectory = null)
    {
        string appSettings = Path.Combine(appSettingsDirectory ?? AppContext.BaseDirectory, AppSettingsFileName);
        builder.AddJsonFile(appSettings, optional: true, reloadOnChange);
        if (configFile is not null)
        {
            builder.AddJsonFile(Path.GetFullPath(configFile), optional: false, reloadOnChange);
        }

        if (environment is null)
        {
            builder.AddEnvironmentVariables(EnvironmentPrefix);
        }
        else
        {
            builder.AddInMemoryCollection(FromEnvironment(environment));
        }

        return builder;
    }

    /// <summary>
    /// Registers <see cref="TargetOptions"/> for IOptions&lt;T&gt; and IOptionsMonitor&lt;T&gt;. A change of the
    /// configuration (a JSON source with reloadOnChange) reloads them; an invalid change is logged and the last
    /// good options stay in force. The first load throws when invalid so start-up fails with the message.
    /// </summary>
    public static IServiceCollection AddTargetOptions(this IServiceCollection services, IConfiguration configuration, Func<TargetOptions, TargetOptions>? overrides = null)
    {
        services.AddOptions();
        services.TryAddSingleton<IOptionsFactory<TargetOptions>>(sp =>
            new TargetOptionsFactory(configuration, overrides, sp.GetService<ILoggerFactory>()?.CreateLogger(typeof(TargetConfiguration)) ?? NullLogger.Instance));
        services.TryAddSingleton<IOptionsChangeTokenSource<TargetOptions>>(new ConfigurationChangeTokenSource<TargetOptions>(configuration));
        return services;
    }

    private static IEnumerable<KeyValuePair<string, string?>> FromEnvironment(IEnumerable<KeyValuePair<string, string?>> environment)
    {
        // The same mapping as the environment-variables provider: strip the prefix, "__" separates sections.
        foreach ((string name, string? value) in environment)
        {
            if (name.StartsWith(EnvironmentPrefix, StringComparison.OrdinalIgnoreCase))
            {
                yield return new(name[EnvironmentPrefix.Length..].Replace("__", ConfigurationPath.KeyDelimiter, StringComparison.Ordinal), value);
            }
        }
    }

    private sealed partial class TargetOptionsFactory(IConfiguration configuration, Func<TargetOptions, TargetOptions>? overrides, ILogger logger)
        : IOptionsFactory<TargetOptions>
    {
        private TargetOptions? _lastGood;

        public TargetOptions Create(string name)
        {
            if (TryLoad(configuration, out TargetOptions? options, out ImmutableArray<string> errors, overrides))
            {
                _lastGood = options;
                return options;
            }

            if (_lastGood is null)
            {
                throw new TargetConfigurationException(errors);
            }

            ReloadRejected(logger, string.Join("; ", errors));
            return _lastGood;
        }

        [LoggerMessage(EventId = 5200, Level = LogLevel.Error, Message = "Configuration change rejected, keeping the previous options: {Errors}")]
        private static partial void ReloadRejected(ILogger logger, string errors);
    }
}
