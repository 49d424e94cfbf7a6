namespace NvmeMptls.Transport.Sockets;

/// <summary>
/// Process-wide settings of .NET's socket engine that our two programs (the target service and the CLI) choose before
/// they open their first socket. A library user's process keeps the runtime's defaults unless it calls this itself.
/// </summary>
public static class SocketEngineSettings
{
    /// <summary>The runtime's switch (documented among .NET's environment variables); read once, at the first socket.</summary>
    public const string InlineCompletionsVariable = "DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS";

    /// <summary>
    /// Runs socket completions on the runtime's epoll thread instead of queuing each one to the thread pool, unless the
    /// environment already says otherwise (<c>DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS=0</c> keeps the pool). Our
    /// socket loops do little after a completion (advance and flush a pipe, or take the next send), and the PDU work
    /// behind them runs on the pipes' schedulers, so one hop and one wake-up per receive are saved. Measured with
    /// bench/ab-compare.sh, both ends pinned, loopback TCP, 4 interleaved runs of this call against the variable set
    /// to 0: 4 KiB randread QD1 1.31× the IOPS (1.06–1.44; 0.76× the target's CPU per I/O), QD32 0.98× (noise),
    /// 128 KiB read 1.12×, write 1.24×; over TLS (variable set by hand) 1.01–1.05×.
    /// Must run before the first socket is created: the runtime reads the variable once.
    /// </summary>
    /// <returns>Whether completions run inline now.</returns>
    public static bool PreferInlineCompletions()
    {
        if (Environment.GetEnvironmentVariable(InlineCompletionsVariable) is null)
        {
            Environment.SetEnvironmentVariable(InlineCompletionsVariable, "1");
        }

        return InlineCompletions;
    }

    /// <summary>Whether socket completions run on the epoll thread in this process (the runtime's reading of the variable).</summary>
    public static bool InlineCompletions => Environment.GetEnvironmentVariable(InlineCompletionsVariable) == "1";
}
