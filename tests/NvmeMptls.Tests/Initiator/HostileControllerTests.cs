using NvmeMptls.Initiator;
using NvmeMptls.Transport.Nvme;
using NvmeMptls.Transport.Pdu;
using static NvmeMptls.Tests.Initiator.InitiatorTestHelpers;

namespace NvmeMptls.Tests.Initiator;

/// <summary>A controller that breaks the protocol: the host refuses, terminates with the right FES, and recovers.</summary>
[TestFixture(NvmeCompletionMode.ThreadPool)]
[TestFixture(NvmeCompletionMode.Inline)]
public sealed class HostileControllerTests(NvmeCompletionMode mode)
{
    [TestCase(1, 0, 0u, "PFV", TermReqFes.UnsupportedParameter, 8u)]
    [TestCase(0, 32, 0u, "CPDA", TermReqFes.UnsupportedParameter, 10u)]
    [TestCase(0, 0, 1000u, "MAXH2CDATA", TermReqFes.InvalidHeaderField, 12u)]
    [TestCase(0, 0, 4098u, "MAXH2CDATA", TermReqFes.InvalidHeaderField, 12u)]
    public async Task IcResp_BadField_IsRefusedWithClearErrorAndTermReq(int pfv, int cpda, uint maxH2CData, string field, TermReqFes fes, uint fei)
    {
        var fake = new FakeController
        {
            IcRespOverride = r => r with { Pfv = (ushort)pfv, Cpda = (byte)cpda, MaxH2CData = maxH2CData == 0 ? r.MaxH2CData : maxH2CData },
        };

        var error = Assert.ThrowsAsync<IOException>(() => NvmeController.ConnectAsync(fake.Options(), fake.Factory));

        Assert.That(error!.Message, Does.Contain("ICResp").And.Contain(field).And.Contain("queue 0"));
        await Until(() => !fake.TermReqs.IsEmpty, "the H2CTermReq");
        Assert.That(fake.TermReqs.TryPeek(out var term) ? (term.Fes, term.Fei) : default, Is.EqualTo((fes, fei)));
    }

    [Test]
    public async Task IcResp_DigestNotAsRequested_IsRefused()
    {
        var fake = new FakeController { CompletionMode = mode, IcRespOverride = r => r with { DataDigest = false } };

        var error = Assert.ThrowsAsync<IOException>(() => NvmeController.ConnectAsync(fake.Options() with { DataDigest = true }, fake.Factory));

        Assert.That(error!.Message, Does.Contain("digests"));
    }

    [Test]
    public async Task C2HData_BeyondTheCommandBuffer_TerminatesWithFes04_AndTheReadIsRetriedAfterReconnect()
    {
        var fake = new FakeController { CompletionMode = mode };
        Pattern(4096, 4).CopyTo(fake.Storage, 0);
        var misbehaved = 0;
        fake.OnCommand = async (session, command) =>
        {
            if (command.Opcode != IoOpcodes.Read || Interlocked.Exchange(ref misbehaved, 1) != 0)
            {
                return false;
            }

            await session.SendRawAsync(C2HData(command.CommandId, 2048, 4096, PduFlags.Last));
            return true;
        };
        await using var controller = await NvmeController.ConnectAsync(fake.Options(1), fake.Factory);
        var states = TrackStates(controller);
        var ns = await controller.OpenNamespaceAsync(1);
        var back = new byte[4096];

        await ns.ReadAsync(0, back);

        // The fake records the H2CTermReq on its own receive loop, which may run after the retry completed.
        await Until(() => !fake.TermReqs.IsEmpty, "the H2CTermReq");
        Assert.That(fake.TermReqs.TryPeek(out var term) ? term.Fes : 0, Is.EqualTo(TermReqFes.DataTransferOutOfRange));
        Assert.That(back, Is.EqualTo(fake.Storage.AsSpan(0, 4096).ToArray()));
        Assert.That(states, Is.EqualTo(new[] { NvmeControllerState.Resetting, NvmeControllerState.Live }));
    }

    [Test]
    public async Task CapsuleResp_UnknownCommandId_TerminatesWithFes01AtTheCidOffset()
    {
        var fake = new FakeController { CompletionMode = mode };
        await using var controller = await NvmeController.ConnectAsync(fake.Options(1), fake.Factory);
        var states = TrackStates(controller);
        var misbehaved = 0;
        fake.OnCommand = async (session, command) =>
        {
            if (command.Opcode != IoOpcodes.Flush || Interlocked.Exchange(ref misbehaved, 1) != 0)
            {
                return false;
            }

            await session.SendRawAsync(CapsuleResp((ushort)(command.CommandId + 1)));
            return true;
        };
        var ns = await controller.OpenNamespaceAsync(1);

        await ns.FlushAsync();

        // The fake records the H2CTermReq on its own receive loop, which may run after the retry completed.
        await Until(() => !fake.TermReqs.IsEmpty, "the H2CTermReq");
        Assert.That(fake.TermReqs.TryPeek(out var term) ? (term.Fes, term.Fei) : default, Is.EqualTo((TermReqFes.InvalidHeaderField, 20u)));
        Assert.That(states, Does.Contain(NvmeControllerState.Resetting));
    }

    [Test]
    public async Task C2HData_SuccessWithoutLast_TerminatesWithFes01AtFlags()
    {
        var fake = new FakeController { CompletionMode = mode };
        var misbehaved = 0;
        fake.OnCommand = async (session, command) =>
        {
            if (command.Opcode != IoOpcodes.Read || Interlocked.Exchange(ref misbehaved, 1) != 0)
            {
                return false;
            }

            await session.SendRawAsync(C2HData(command.CommandId, 0, 512, PduFlags.Success));
            return true;
        };
        await using var controller = await NvmeController.ConnectAsync(fake.Options(1), fake.Factory);
        var ns = await controller.OpenNamespaceAsync(1);

        await ns.ReadAsync(0, new byte[512]);

        // The fake records the H2CTermReq on its own receive loop, which may run after the retry completed.
        await Until(() => !fake.TermReqs.IsEmpty, "the H2CTermReq");
        Assert.That(fake.TermReqs.TryPeek(out var term) ? (term.Fes, term.Fei) : default, Is.EqualTo((TermReqFes.InvalidHeaderField, 1u)));
    }

    [Test]
    public async Task C2HTermReq_FromTheController_StartsRecovery_NoTermReqBack()
    {
        var fake = new FakeController { CompletionMode = mode };
        var misbehaved = 0;
        fake.OnCommand = async (session, command) =>
        {
            if (command.Opcode != IoOpcodes.Write || Interlocked.Exchange(ref misbehaved, 1) != 0)
            {
                return false;
            }

            await session.SendRawAsync(C2HTermReq(TermReqFes.PduSequenceError, 0));
            return true;
        };
        await using var controller = await NvmeController.ConnectAsync(fake.Options(1), fake.Factory);
        var states = TrackStates(controller);
        var ns = await controller.OpenNamespaceAsync(1);
        var data = Pattern(1024, 8);

        await ns.WriteAsync(4, data);

        Assert.That(states, Is.EqualTo(new[] { NvmeControllerState.Resetting, NvmeControllerState.Live }));
        Assert.That(fake.TermReqs, Is.Empty, "a TermReq is never answered with a TermReq");
        Assert.That(fake.Storage.AsSpan(4 * 512, 1024).SequenceEqual(data), Is.True, "the write was resubmitted on the new association");
    }

    [TestCase((byte)8)]
    [TestCase((byte)31)]
    [TestCase((byte)41)]
    public async Task IdentifyNamespace_LbaDataSizeOutOfRange_OpenRefusedWithClearError(byte lbads)
    {
        var fake = new FakeController { CompletionMode = mode };
        fake.OnCommand = async (session, command) =>
        {
            if (command.Opcode != AdminOpcodes.Identify || IdentifyCns.CnsOf(command) != IdentifyCns.Namespace)
            {
                return false;
            }

            // A hostile controller: LBADS beyond what a block size can be (1 << 41 would wrap to 512 in C#).
            var pdu = C2HData(command.CommandId, 0, IdentifyCns.DataSize, PduFlags.Last);
            new IdentifyNamespace { BlockCount = 1024, Capacity = 1024, LbaDataSizeShift = lbads }.Write(pdu.AsSpan(24));
            await session.SendRawAsync(pdu);
            await session.SendRawAsync(CapsuleResp(command.CommandId));
            return true;
        };
        await using var controller = await NvmeController.ConnectAsync(fake.Options(1), fake.Factory);

        var error = Assert.ThrowsAsync<InvalidDataException>(async () => await controller.OpenNamespaceAsync(1));

        Assert.That(error!.Message, Does.Contain("LBA data size").And.Contain("cannot be opened"));
    }
}
