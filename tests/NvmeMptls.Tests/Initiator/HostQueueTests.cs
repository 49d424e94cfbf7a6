using NvmeMptls.Initiator;
using NvmeMptls.Transport.Nvme;
using NvmeMptls.Transport.Pdu;
using static NvmeMptls.Tests.Initiator.InitiatorTestHelpers;

namespace NvmeMptls.Tests.Initiator;

/// <summary>The host queue's data paths against the fake controller: in-capsule, R2T, C2HData, digests.</summary>
[TestFixture(NvmeCompletionMode.ThreadPool)]
[TestFixture(NvmeCompletionMode.Inline)]
public sealed class HostQueueTests(NvmeCompletionMode mode)
{
    [TestCase(512)]
    [TestCase(8192)]
    [TestCase(8704)]
    [TestCase(128 * 1024)]
    public async Task WriteThenRead_RoundTripsEverySize(int size)
    {
        var fake = new FakeController { CompletionMode = mode };
        await using var controller = await NvmeController.ConnectAsync(fake.Options(), fake.Factory);
        var ns = await controller.OpenNamespaceAsync(1);
        var data = Pattern(size, size);

        await ns.WriteAsync(16, data);
        var back = new byte[size];
        await ns.ReadAsync(16, back);

        Assert.That(back, Is.EqualTo(data));
        Assert.That(fake.Storage.AsSpan(16 * 512, size).SequenceEqual(data), Is.True);
        Assert.That(fake.H2CDataPdus, size <= 8192 ? Is.Zero : Is.GreaterThan(0), "in-capsule up to IOCCSZ*16-64, R2T above");
    }

    [Test]
    public async Task Write_R2TLargerThanMaxH2CData_SplitsIntoH2CDataWithLastOnEachR2T()
    {
        var fake = new FakeController { CompletionMode = mode, MaxH2CData = 4096, R2TChunk = 16 * 1024 };
        await using var controller = await NvmeController.ConnectAsync(fake.Options(1), fake.Factory);
        var ns = await controller.OpenNamespaceAsync(1);
        var data = Pattern(64 * 1024, 3);

        await ns.WriteAsync(0, data);

        // 4 R2Ts of 16 KiB, each answered by 4 PDUs of 4 KiB; the fake checks DATAO, TTAG and LAST_PDU per R2T.
        Assert.That(fake.H2CDataPdus, Is.EqualTo(16));
        Assert.That(fake.Storage.AsSpan(0, data.Length).SequenceEqual(data), Is.True);
    }

    [TestCase(false)]
    [TestCase(true)]
    public async Task Read_SplitC2HData_WithOrWithoutSuccessFlag_FillsTheBuffer(bool successFlag)
    {
        var fake = new FakeController { CompletionMode = mode, C2HChunk = 4096, UseSuccessFlag = successFlag };
        Pattern(64 * 1024, 9).CopyTo(fake.Storage, 0);
        await using var controller = await NvmeController.ConnectAsync(fake.Options(1), fake.Factory);
        var ns = await controller.OpenNamespaceAsync(1);
        var back = new byte[64 * 1024];

        await ns.ReadAsync(0, back);
        await ns.ReadAsync(0, back);

        Assert.That(back, Is.EqualTo(fake.Storage.AsSpan(0, back.Length).ToArray()));
    }

    [TestCase(false, false)]
    [TestCase(true, false)]
    [TestCase(false, true)]
    [TestCase(true, true)]
    public async Task Digests_Negotiated_DataRoundTrips(bool header, bool data)
    {
        var fake = new FakeController { CompletionMode = mode, MaxH2CData = 8192 };
        await using var controller = await NvmeController.ConnectAsync(fake.Options(2) with { HeaderDigest = header, DataDigest = data }, fake.Factory);
        var ns = await controller.OpenNamespaceAsync(1);
        var payload = Pattern(40 * 1024, 5);

        await ns.WriteAsync(100, payload);
        await ns.WriteAsync(300, payload.AsMemory(0, 4096));
        var back = new byte[payload.Length];
        await ns.ReadAsync(100, back);

        Assert.That(back, Is.EqualTo(payload));
    }

    [Test]
    public async Task DataDigestMismatch_Once_IsRetriedOnTheSameConnection()
    {
        var fake = new FakeController { CompletionMode = mode };
        Pattern(4096, 1).CopyTo(fake.Storage, 0);
        await using var controller = await NvmeController.ConnectAsync(fake.Options(1) with { DataDigest = true }, fake.Factory);
        var ns = await controller.OpenNamespaceAsync(1);
        var connections = fake.Connections;
        fake.CorruptReadDigests = 1;
        var back = new byte[4096];

        await ns.ReadAsync(0, back);

        Assert.That(back, Is.EqualTo(fake.Storage.AsSpan(0, 4096).ToArray()));
        Assert.That(fake.Connections, Is.EqualTo(connections), "a data digest error must not end the connection");
        Assert.That(fake.TermReqs, Is.Empty);
    }

    [Test]
    public async Task DataDigestMismatch_Twice_FailsTheCommandWithTransientTransportError_ConnectionKept()
    {
        var fake = new FakeController { CompletionMode = mode };
        await using var controller = await NvmeController.ConnectAsync(fake.Options(1) with { DataDigest = true }, fake.Factory);
        var ns = await controller.OpenNamespaceAsync(1);
        var connections = fake.Connections;
        fake.CorruptReadDigests = 2;

        var error = Assert.ThrowsAsync<NvmeStatusException>(async () => await ns.ReadAsync(0, new byte[4096]));

        Assert.That(error!.Status.Code, Is.EqualTo(NvmeStatusCodes.TransientTransportError));
        await ns.ReadAsync(0, new byte[4096]);
        Assert.That(fake.Connections, Is.EqualTo(connections));
        Assert.That(controller.State, Is.EqualTo(NvmeControllerState.Live));
    }

    [Test]
    public async Task QueueFull_CallersWaitForASlot_AndAllComplete()
    {
        var fake = new FakeController { CompletionMode = mode };
        await using var controller = await NvmeController.ConnectAsync(fake.Options(1) with { QueueSize = 4 }, fake.Factory);
        var ns = await controller.OpenNamespaceAsync(1);

        var reads = new Task[64];
        for (var i = 0; i < reads.Length; i++)
        {
            reads[i] = ns.ReadAsync((ulong)i, new byte[512]).AsTask();
        }

        await Task.WhenAll(reads);
        Assert.That(controller.QueueSize, Is.EqualTo(4));
    }

    [Test]
    public async Task CommandErrorStatus_WithDnr_IsNotRetried()
    {
        var fake = new FakeController { CompletionMode = mode };
        var seen = 0;
        fake.OnCommand = async (session, command) =>
        {
            if (command.Opcode != IoOpcodes.Flush)
            {
                return false;
            }

            Interlocked.Increment(ref seen);
            await session.RespondAsync(command.CommandId, NvmeStatus.Make(0, (byte)NvmeStatusCodes.TransientTransportError, dnr: true));
            return true;
        };
        await using var controller = await NvmeController.ConnectAsync(fake.Options(1), fake.Factory);
        var ns = await controller.OpenNamespaceAsync(1);

        Assert.ThrowsAsync<NvmeStatusException>(async () => await ns.FlushAsync());
        Assert.That(seen, Is.EqualTo(1));
    }
}
