using System.Collections.Immutable;
using Microsoft.Extensions.Configuration;
using NvmeMptls.Target.Configuration;

namespace NvmeMptls.Tests.Target.Configuration;

internal static class ConfigurationTestKit
{
    public const string ValidKey = "NVMeTLSkey-1:01:HdyRGhFQjHK6zpxUWXpra20Q3IVwCI0NOWncu+zsSnVNi4Ca:";

    public static IConfigurationRoot Build(params (string Key, string? Value)[] values)
    {
        var data = new Dictionary<string, string?>();
        foreach ((string key, string? value) in values)
        {
            data[key] = value;
        }

        return new ConfigurationBuilder().AddInMemoryCollection(data).Build();
    }

    public static ImmutableArray<string> Errors(params (string Key, string? Value)[] values)
    {
        TargetConfiguration.TryLoad(Build(values), out _, out ImmutableArray<string> errors);
        return errors;
    }

    public static TargetOptions Load(params (string Key, string? Value)[] values) => TargetConfiguration.Load(Build(values));

    public static string RepositoryRoot()
    {
        for (DirectoryInfo? dir = new(TestContext.CurrentContext.TestDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "NvmeMptls.sln")))
            {
                return dir.FullName;
            }
        }

        throw new DirectoryNotFoundException("NvmeMptls.sln not found above " + TestContext.CurrentContext.TestDirectory);
    }
}
