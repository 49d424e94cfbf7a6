using NvmeMptls.Target.Namespaces;

namespace NvmeMptls.Tests.Target.Namespaces;

/// <summary>The answers of one batch of device completions: which connections join, and that each is drained once.</summary>
public sealed class CompletionBatchTests
{
    private sealed class Member(List<string> log, string name) : IDeferredDrain
    {
        public void DrainDeferred() => log.Add(name);
    }

    [Test]
    public void WithoutAScope_NobodyJoins_TheCallerWakesItsOwnSender()
    {
        Assert.That(CompletionBatch.TryDefer(new Member([], "a")), Is.False);
    }

    [Test]
    public void InsideTheScope_EachConnectionJoinsOnce_AndRunDrainsEachOnceInOrder()
    {
        var log = new List<string>();
        Member a = new(log, "a"), b = new(log, "b");
        var batch = new CompletionBatch();
        var previous = batch.Enter();
        try
        {
            Assert.That(CompletionBatch.TryDefer(a), Is.True);
            Assert.That(CompletionBatch.TryDefer(b), Is.True);
            Assert.That(CompletionBatch.TryDefer(a), Is.True, "already in: still the batch's to drain");
            Assert.That(Task.Run(() => CompletionBatch.TryDefer(b)).Result, Is.False, "another thread is outside the scope");
        }
        finally
        {
            CompletionBatch.Exit(previous);
        }

        Assert.That(CompletionBatch.TryDefer(a), Is.False, "the scope ended");
        Assert.That(batch.Count, Is.EqualTo(2));
        Assert.That(log, Is.Empty, "nothing drains before Run");
        batch.Run();
        Assert.That(log, Is.EqualTo(new[] { "a", "b" }));
        Assert.That(batch.Count, Is.Zero);
        batch.Run();
        Assert.That(log, Has.Count.EqualTo(2), "a second run has nobody left");
    }
}
