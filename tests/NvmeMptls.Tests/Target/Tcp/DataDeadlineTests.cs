using Microsoft.Extensions.Time.Testing;
using NvmeMptls.Target.Server;
using NvmeMptls.TestKit;
using NvmeMptls.Transport.Nvme;
using NvmeMptls.Transport.Pdu;

namespace NvmeMptls.Tests.Target.Tcp;

/// <summary>
/// The data-phase deadline on a fake clock (issue 12): an R2T whose data never comes ends its queue at
/// Target:Timeouts:Data (default 30 s) from the R2T, not before, and the write's buffer goes back to the pool.
/// </summary>
public sealed class DataDeadlineTests
{
    private static readonly TimeSpan Second = TimeSpan.FromSeconds(1);

    [Test]
    public async Task R2TAnsweredByNothing_QueueKeptUntilTheDefault30sThenCutAndBufferReturned()
    {
        var clock = new FakeTimeProvider();
        await using var target = new InMemoryTarget(time: clock);
        var admin = target.Connect();
        await admin.BringUpAdminAsync(InMemoryTarget.SubsystemNqn);
        var io = target.Connect();
        await io.InitializeAsync();
        var connect = await io.ConnectAsync(InMemoryTarget.SubsystemNqn, 1, 31, admin.ControllerId);
        Assert.That(connect.Status.IsSuccess, Is.True, connect.Status.ToString());

        var cmd = io.Command(IoOpcodes.Write, 1, cdw12: 127, length: 64 << 10);
        cmd.CommandId = 5;
        io.Writer.WriteCapsuleCmd(cmd, default);
        await io.Writer.FlushAsync();
        Assert.That(await io.Reader.ReadHeaderAsync(), Is.True);
        Assert.That(io.Reader.Common.Type, Is.EqualTo(PduType.R2T));
        Assert.That(target.QueueOf(1).BufferedBytes, Is.EqualTo(64L << 10));

        for (var i = 0; i < 29; i++)
        {
            clock.Advance(Second);
            await Task.Delay(5);
        }

        Assert.That(target.RunOf(1).IsCompleted, Is.False, "cut before the deadline");
        for (var i = 0; i < 3 && !target.RunOf(1).IsCompleted; i++)
        {
            clock.Advance(Second);
            await Task.Delay(20);
        }

        await target.RunOf(1).WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Multiple(() =>
        {
            Assert.That(target.QueueOf(1).EndReason, Is.EqualTo(ConnectionEndReason.TransferTimeout));
            Assert.That(target.Registry.Counters.SetupTimeouts[(int)SetupPhase.Data], Is.EqualTo(1));
            Assert.That(target.Registry.Counters.SetupTimeouts[(int)SetupPhase.Send], Is.Zero);
            Assert.That(target.QueueOf(1).BufferedBytes, Is.Zero);
            Assert.That(target.Registry.Buffers.BytesInUse, Is.Zero);
            Assert.That(target.RunOf(0).IsCompleted, Is.False, "the admin queue, which owes nothing, stays");
        });
    }
}
