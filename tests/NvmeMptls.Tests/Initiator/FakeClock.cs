using System.Collections.Concurrent;
using Microsoft.Extensions.Time.Testing;

namespace NvmeMptls.Tests.Initiator;

/// <summary>
/// A fake clock that also remembers the due time of every timer created on it, so a test can wait until the
/// controller has armed a delay (a reconnect back-off, a keep-alive period) before advancing past it.
/// </summary>
public sealed class FakeClock : FakeTimeProvider
{
    /// <summary>One fake-clock tick: advancing a due time less this must not fire it.</summary>
    public static readonly TimeSpan Tick = TimeSpan.FromMilliseconds(1);

    private readonly ConcurrentDictionary<TimeSpan, int> _created = new();
    private readonly Dictionary<TimeSpan, int> _awaited = [];

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        _created.AddOrUpdate(dueTime, 1, static (_, n) => n + 1);
        return base.CreateTimer(callback, state, dueTime, period);
    }

    /// <summary>Waits (in real time, polling) until one more timer due after <paramref name="dueTime"/> has been armed.</summary>
    public async Task WaitForTimerAsync(TimeSpan dueTime)
    {
        var seen = _awaited.GetValueOrDefault(dueTime);
        await InitiatorTestHelpers.Until(() => _created.GetValueOrDefault(dueTime) > seen, $"a timer due after {dueTime}");
        _awaited[dueTime] = seen + 1;
    }
}
