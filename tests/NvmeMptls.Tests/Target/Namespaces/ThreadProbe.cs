namespace NvmeMptls.Tests.Target.Namespaces;

/// <summary>For thread-static scopes: what another thread sees.</summary>
internal static class ThreadProbe
{
    /// <summary>Runs <paramref name="read"/> on a new thread (never inline on this one, as a pool task may be).</summary>
    public static T OnNewThread<T>(Func<T> read)
    {
        T result = default!;
        var thread = new Thread(() => result = read());
        thread.Start();
        thread.Join();
        return result;
    }
}
