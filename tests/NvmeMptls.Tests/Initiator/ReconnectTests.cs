using NvmeMptls.Initiator;
using static NvmeMptls.Tests.Initiator.InitiatorTestHelpers;

namespace NvmeMptls.Tests.Initiator;

/// <summary>Connection loss: teardown, reconnect after the delay, resubmission, and the controller loss timeout.</summary>
[TestFixture(NvmeCompletionMode.ThreadPool)]
[TestFixture(NvmeCompletionMode.Inline)]
public sealed class ReconnectTests(NvmeCompletionMode mode)
{
    [Test]
    public async Task ConnectionDrop_DuringIo_ReconnectsWithNewControllerId_AndEveryCommandCompletes()
    {
        var fake = new FakeController { CompletionMode = mode };
        await using var controller = await NvmeController.ConnectAsync(fake.Options(2), fake.Factory);
        var ns = await controller.OpenNamespaceAsync(1);
        var data = Pattern(1024 * 1024, 11);
        var first = controller.ControllerId;
        var holdWrites = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var dropped = false;
        fake.OnCommand = async (session, command) =>
        {
            // Swallow the first few writes so they are in flight when the connections drop.
            if (command.Opcode == NvmeMptls.Transport.Nvme.IoOpcodes.Write && !Volatile.Read(ref dropped))
            {
                holdWrites.TrySetResult();
                return true;
            }

            await Task.CompletedTask;
            return false;
        };

        var writes = new Task[16];
        for (var i = 0; i < writes.Length; i++)
        {
            writes[i] = ns.WriteAsync((ulong)(i * 128), data.AsMemory(i * 65536, 65536)).AsTask();
        }

        await holdWrites.Task;
        Volatile.Write(ref dropped, true);
        fake.DropAll();
        await Task.WhenAll(writes);

        Assert.That(controller.ControllerId, Is.Not.EqualTo(first));
        Assert.That(controller.State, Is.EqualTo(NvmeControllerState.Live));
        Assert.That(fake.Storage.AsSpan(0, data.Length).SequenceEqual(data), Is.True);
    }

    [Test]
    public async Task ControllerLossTimeout_Expired_FailsWaitingCommandsWithIOException()
    {
        var fake = new FakeController { CompletionMode = mode };
        var delay = TimeSpan.FromSeconds(3);
        var loss = TimeSpan.FromSeconds(10);
        await using var controller = await NvmeController.ConnectAsync(
            fake.Options(1) with { ReconnectDelay = delay, ControllerLossTimeout = loss, CommandTimeout = TimeSpan.Zero }, fake.Factory);
        var states = TrackStates(controller);
        var ns = await controller.OpenNamespaceAsync(1);
        fake.Refuse = true;
        fake.DropAll();
        var read = ns.ReadAsync(0, new byte[512]).AsTask();

        // Attempts at 3, 6 and 9 s; the last wait is cut to the 1 s left, and the controller fails at 10 s, not before.
        foreach (var wait in new[] { delay, delay, delay, loss - (3 * delay) })
        {
            await fake.Time.WaitForTimerAsync(wait);
            fake.Time.Advance(wait - FakeClock.Tick);
            await Settle();
            Assert.That(controller.State, Is.EqualTo(NvmeControllerState.Resetting));
            var attempts = fake.AdminConnects.Count;
            fake.Time.Advance(FakeClock.Tick);
            await Until(() => fake.AdminConnects.Count == attempts + 1, "the next reconnect attempt");
        }

        Assert.ThrowsAsync<IOException>(async () => await read);
        Assert.That(controller.State, Is.EqualTo(NvmeControllerState.Failed));
        Assert.That(states, Is.EqualTo(new[] { NvmeControllerState.Resetting, NvmeControllerState.Failed }));
    }

    [Test]
    public async Task Reconnect_FailsTwice_RetriesEveryReconnectDelay_ThenSucceeds()
    {
        var fake = new FakeController { CompletionMode = mode };
        var delay = TimeSpan.FromSeconds(3);
        await using var controller = await NvmeController.ConnectAsync(fake.Options(1) with { ReconnectDelay = delay }, fake.Factory);
        var states = TrackStates(controller);
        var ns = await controller.OpenNamespaceAsync(1);
        fake.Refuse = true;
        var dropped = fake.Time.GetUtcNow();
        fake.DropAll();
        var read = ns.ReadAsync(0, new byte[512]).AsTask();

        for (var attempt = 1; attempt <= 3; attempt++)
        {
            fake.Refuse = attempt < 3;
            await fake.Time.WaitForTimerAsync(delay);
            fake.Time.Advance(delay - FakeClock.Tick);
            await Settle();
            Assert.That(fake.AdminConnects, Has.Count.EqualTo(attempt), $"attempt {attempt} came before the reconnect delay");
            fake.Time.Advance(FakeClock.Tick);
            await Until(() => fake.AdminConnects.Count == attempt + 1, $"reconnect attempt {attempt}");
        }

        await read;
        var schedule = fake.AdminConnects.Skip(1).Select(t => t - dropped);
        Assert.That(schedule, Is.EqualTo(new[] { delay, 2 * delay, 3 * delay }));
        Assert.That(controller.State, Is.EqualTo(NvmeControllerState.Live));
        Assert.That(states, Is.EqualTo(new[] { NvmeControllerState.Resetting, NvmeControllerState.Live }));
    }

    [Test]
    public async Task CommandTimeout_ControllerNeverAnswers_ResetsAndRetriesTheCommand()
    {
        var fake = new FakeController { CompletionMode = mode };
        Pattern(512, 12).CopyTo(fake.Storage, 0);
        var swallowed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        fake.OnCommand = (session, command) =>
            ValueTask.FromResult(command.Opcode == NvmeMptls.Transport.Nvme.IoOpcodes.Read && swallowed.TrySetResult());
        var timeout = TimeSpan.FromSeconds(2);
        await using var controller = await NvmeController.ConnectAsync(fake.Options(1) with { CommandTimeout = timeout }, fake.Factory);
        var states = TrackStates(controller);
        var ns = await controller.OpenNamespaceAsync(1);
        var back = new byte[512];

        var read = ns.ReadAsync(0, back).AsTask();
        await swallowed.Task.WaitAsync(TimeSpan.FromSeconds(20));

        // The watchdog looks every timeout/4: at 2 s the command is not yet overdue, at 2.5 s it is.
        fake.Time.Advance(timeout);
        await Settle();
        Assert.That(states, Is.Empty, "reset before the command timeout");
        fake.Time.Advance(timeout / 4);
        await read.WaitAsync(TimeSpan.FromSeconds(20));

        Assert.That(back, Is.EqualTo(fake.Storage.AsSpan(0, 512).ToArray()));
        Assert.That(states, Is.EqualTo(new[] { NvmeControllerState.Resetting, NvmeControllerState.Live }));
    }

    [Test]
    public async Task QueueCloseThrows_RecoveryGoesOn_AndTheWaitingReadCompletes()
    {
        // The soak found this: a connection whose close failed (TLS over a connection aborted by a command timeout) made
        // the teardown throw, which ended the recovery task and left the controller in Resetting with its I/O waiting.
        var fake = new FakeController { CompletionMode = mode };
        Pattern(512, 13).CopyTo(fake.Storage, 0);
        NvmeQueueConnector connector = async (endpoint, ct) => new CloseThrows(await fake.Factory(endpoint, ct));
        await using var controller = await NvmeController.ConnectAsync(fake.Options(1), connector);
        var states = TrackStates(controller);
        var ns = await controller.OpenNamespaceAsync(1);

        fake.DropAll();
        var back = new byte[512];
        await ns.ReadAsync(0, back).AsTask().WaitAsync(TimeSpan.FromSeconds(20));

        Assert.That(back, Is.EqualTo(fake.Storage.AsSpan(0, 512).ToArray()));
        Assert.That(controller.State, Is.EqualTo(NvmeControllerState.Live));
        Assert.That(states, Is.EqualTo(new[] { NvmeControllerState.Resetting, NvmeControllerState.Live }));
    }

    /// <summary>A connector's pipe whose close fails after closing, as a TLS connection over an aborted carrier did.</summary>
    private sealed class CloseThrows(System.IO.Pipelines.IDuplexPipe inner) : System.IO.Pipelines.IDuplexPipe, IAsyncDisposable
    {
        public System.IO.Pipelines.PipeReader Input => inner.Input;

        public System.IO.Pipelines.PipeWriter Output => inner.Output;

        public async ValueTask DisposeAsync()
        {
            if (inner is IAsyncDisposable disposable)
            {
                await disposable.DisposeAsync();
            }

            throw new TimeoutException("command 3 (opcode 0x02) on queue 1 timed out");
        }
    }
}
