using NvmeMptls.Target.Commands;
using static NvmeMptls.Target.Commands.CommandState;

namespace NvmeMptls.Tests.Target.Commands;

/// <summary>The command slot's state machine: the table in <see cref="CommandState"/>, and nothing else.</summary>
public sealed class CommandStateTests
{
    private static readonly (CommandState From, CommandState To)[] Legal =
    [
        (Free, Receiving),
        (Receiving, AwaitingData), (Receiving, Executing), (Receiving, Completing), (Receiving, Free),
        (AwaitingData, Executing), (AwaitingData, Completing), (AwaitingData, Free),
        (Executing, Held), (Executing, Completing),
        (Held, Completing), (Held, Free),
        (Completing, Free),
    ];

    private static IEnumerable<TestCaseData> AllPairs() =>
        from source in Enum.GetValues<CommandState>()
        from target in Enum.GetValues<CommandState>()
        let legal = Legal.Contains((source, target))
        select new TestCaseData((int)source, (int)target, legal).SetName($"IsLegal_{source}To{target}_Is{legal}");

    [TestCaseSource(nameof(AllPairs))]
    public void IsLegal_EveryPair_MatchesTheDocumentedTable(int from, int to, bool legal) =>
        Assert.That(CommandContext.IsLegal((CommandState)from, (CommandState)to), Is.EqualTo(legal));

    [Test]
    public void SetState_FreeToExecuting_ThrowsNamingTheTransition()
    {
        var ctx = NewSlot();
        var ex = Assert.Throws<InvalidOperationException>(() => ctx.SetState(Executing));
        Assert.That(ex!.Message, Does.Contain("illegal state transition Free → Executing"));
        Assert.That(ctx.State, Is.EqualTo(Free), "a rejected transition changes nothing");
    }

    [Test]
    public void SetState_CompletingBackToExecuting_Throws()
    {
        var ctx = NewSlot();
        ctx.SetState(Receiving);
        ctx.SetState(Executing);
        ctx.SetState(Completing);
        Assert.Throws<InvalidOperationException>(() => ctx.SetState(Executing));
    }

    [Test]
    public void SetState_R2TLifecycle_ReturnsToFree()
    {
        var ctx = NewSlot();
        foreach (var next in new[] { Receiving, AwaitingData, Executing, Completing, Free })
        {
            ctx.SetState(next);
            Assert.That(ctx.State, Is.EqualTo(next));
        }
    }

    [Test]
    public void TrySetState_HeldCommandCompletedWhileItsConnectionCloses_OnlyOneWins()
    {
        var registry = FakeCommandQueue.Registry();
        var executor = FakeCommandQueue.Executor(registry, out var queue);
        var ctx = new CommandContext(executor, 0);
        ctx.SetState(Receiving);
        ctx.SetState(Executing);
        ctx.SetState(Held);

        Assert.That(ctx.TrySetState(Held, Free), Is.True, "the connection closed first");
        ctx.CompleteHeld(default, 0);

        Assert.That(ctx.State, Is.EqualTo(Free));
        Assert.That(queue.Sent, Is.Empty, "the late event sends nothing for a released slot");
    }

    private static CommandContext NewSlot() => new(FakeCommandQueue.Executor(FakeCommandQueue.Registry(), out _), 0);
}
