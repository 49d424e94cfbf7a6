using NvmeMptls.IntegrationTests.TestKit;

namespace NvmeMptls.IntegrationTests.Service;

/// <summary>
/// The target process chooses its socket engine and JIT settings itself (SocketEngineSettings, the runtimeconfig) and
/// says so in its start-up banner; an operator's environment variable still wins.
/// </summary>
[TestFixture]
[NonParallelizable]
public sealed class RuntimeSettingsTests
{
    [TestCase(null, "socket completions inline (epoll thread), tiered compilation off")]
    [TestCase("0", "socket completions on the thread pool, tiered compilation off")]
    public async Task Banner_NamesWhereSocketCompletionsRun_AndTheOperatorsChoiceWins(string? inlineVariable, string expected)
    {
        var environment = new Dictionary<string, string>();
        if (inlineVariable is not null)
        {
            environment["DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS"] = inlineVariable;
        }

        await using var target = TargetProcess.Start(
            ["--listen", $"127.0.0.1:{TargetProcess.FreePort()}", "--discovery", "none", "--memory-ns", "16MiB"], environment);
        await target.WaitReadyAsync(TimeSpan.FromSeconds(30));
        Assert.That(target.StandardOutput, Does.Contain("runtime: " + expected));
    }
}
