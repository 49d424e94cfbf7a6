using NvmeMptls.Initiator;
using static NvmeMptls.Tests.Initiator.InitiatorTestHelpers;

namespace NvmeMptls.Tests.Initiator;

/// <summary>Connection loss: teardown, reconnect after the delay, resubmission, and the controller loss timeout.</summary>
public sealed class ReconnectTests
{
    [Test]
    public async Task ConnectionDrop_DuringIo_ReconnectsWithNewControllerId_AndEveryCommandCompletes()
    {
        var fake = new FakeController();
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
        var fake = new FakeController();
        await using var controller = await NvmeController.ConnectAsync(fake.Options(1) with { ControllerLossTimeout = TimeSpan.FromMilliseconds(300) }, fake.Factory);
        var states = TrackStates(controller);
        var ns = await controller.OpenNamespaceAsync(1);
        fake.Refuse = true;
        fake.DropAll();

        Assert.ThrowsAsync<IOException>(async () => await ns.ReadAsync(0, new byte[512]));
        await Until(() => controller.State == NvmeControllerState.Failed, "the Failed state");
        Assert.That(states, Is.EqualTo(new[] { NvmeControllerState.Resetting, NvmeControllerState.Failed }));
    }

    [Test]
    public async Task Reconnect_FailsAFewTimes_ThenSucceeds()
    {
        var fake = new FakeController();
        await using var controller = await NvmeController.ConnectAsync(fake.Options(1), fake.Factory);
        var ns = await controller.OpenNamespaceAsync(1);
        fake.Refuse = true;
        fake.DropAll();
        var read = ns.ReadAsync(0, new byte[512]).AsTask();
        await Until(() => controller.State == NvmeControllerState.Resetting, "the reset");
        await Task.Delay(200);
        fake.Refuse = false;

        await read;
        Assert.That(controller.State, Is.EqualTo(NvmeControllerState.Live));
    }

    [Test]
    public async Task CommandTimeout_ControllerNeverAnswers_ResetsAndRetriesTheCommand()
    {
        var fake = new FakeController();
        Pattern(512, 12).CopyTo(fake.Storage, 0);
        var swallowed = 0;
        fake.OnCommand = (session, command) =>
            ValueTask.FromResult(command.Opcode == NvmeMptls.Transport.Nvme.IoOpcodes.Read && Interlocked.Exchange(ref swallowed, 1) == 0);
        await using var controller = await NvmeController.ConnectAsync(fake.Options(1) with { CommandTimeout = TimeSpan.FromMilliseconds(200) }, fake.Factory);
        var states = TrackStates(controller);
        var ns = await controller.OpenNamespaceAsync(1);
        var back = new byte[512];

        await ns.ReadAsync(0, back);

        Assert.That(back, Is.EqualTo(fake.Storage.AsSpan(0, 512).ToArray()));
        Assert.That(states, Is.EqualTo(new[] { NvmeControllerState.Resetting, NvmeControllerState.Live }));
    }
}
