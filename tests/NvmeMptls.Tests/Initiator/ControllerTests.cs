using NvmeMptls.Initiator;
using NvmeMptls.Transport.Nvme;
using static NvmeMptls.Tests.Initiator.InitiatorTestHelpers;

namespace NvmeMptls.Tests.Initiator;

/// <summary>Bring-up, admin commands, AER, keep alive and shutdown against the fake controller.</summary>
public sealed class ControllerTests
{
    [Test]
    public async Task Connect_EnablesLikeLinux_AndConnectsTheGrantedIoQueues()
    {
        var fake = new FakeController { GrantedQueues = 3 };
        await using var controller = await NvmeController.ConnectAsync(fake.Options(4), fake.Factory);

        Assert.That(controller.State, Is.EqualTo(NvmeControllerState.Live));
        Assert.That(controller.IoQueueCount, Is.EqualTo(3), "min(requested 4, granted 3)");
        Assert.That(controller.ControllerId, Is.EqualTo(1));
        Assert.That(controller.Identify.SubsystemNqn, Is.EqualTo(FakeController.Nqn));
        Assert.That(controller.Version, Is.EqualTo(0x00010400u));
        Assert.That(fake.Connections, Is.EqualTo(4));
        Assert.That(fake.Events, Does.Contain("CC 0x460000").And.Contain("CC 0x460001"), "CC with IOSQES 6 / IOCQES 4, EN=0 then EN=1");
    }

    [Test]
    public async Task Dispose_WritesShutdownNotification()
    {
        var fake = new FakeController();
        var controller = await NvmeController.ConnectAsync(fake.Options(1), fake.Factory);

        await controller.DisposeAsync();

        Assert.That(fake.Events, Does.Contain("CC 0x464001"), "CC.SHN = 01 with EN kept");
        Assert.That(controller.State, Is.EqualTo(NvmeControllerState.Closed));
        Assert.ThrowsAsync<ObjectDisposedException>(async () => await controller.IdentifyControllerAsync());
    }

    [Test]
    public async Task Connect_UnknownSubsystem_FailsWithDecodedConnectStatus()
    {
        var fake = new FakeController();

        var error = Assert.ThrowsAsync<NvmeStatusException>(() => NvmeController.ConnectAsync(fake.Options() with { SubsystemNqn = "nqn.2024-01.io.example:other" }, fake.Factory));

        Assert.That(error!.Message, Does.Contain("Connect Invalid Parameters").And.Contain("SUBNQN"));
    }

    [Test]
    public async Task AdminCommands_ReturnIdentifyListsAndDescriptors()
    {
        var fake = new FakeController();
        await using var controller = await NvmeController.ConnectAsync(fake.Options(1), fake.Factory);

        Assert.That(await controller.GetActiveNamespacesAsync(), Is.EqualTo(new uint[] { 1 }));
        var ids = await controller.GetNamespaceDescriptorsAsync(1);
        Assert.That(ids.Nguid, Is.EqualTo(new Guid("00112233-4455-6677-8899-aabbccddeeff")));
        Assert.That(ids.Uuid, Is.EqualTo(new Guid("0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0")));
        var ns = await controller.IdentifyNamespaceAsync(1);
        Assert.That(ns.BlockCount, Is.EqualTo((ulong)(fake.Storage.Length / 512)));
        Assert.That((await controller.IdentifyControllerAsync()).Model, Is.EqualTo("fake"));
    }

    [Test]
    public async Task AsyncEvent_NamespaceNotice_ReadsChangedListAndRaisesEvent()
    {
        var fake = new FakeController();
        await using var controller = await NvmeController.ConnectAsync(fake.Options(1), fake.Factory);
        var changed = new TaskCompletionSource<IReadOnlyList<uint>>(TaskCreationOptions.RunContinuationsAsynchronously);
        controller.NamespacesChanged += (_, change) => changed.TrySetResult(change.Namespaces);
        await Until(() => fake.Events.Contains("aer"), "the AER to be outstanding");

        await fake.SignalNamespaceChangeAsync();

        Assert.That(await changed.Task.WaitAsync(TimeSpan.FromSeconds(20)), Is.EqualTo(new uint[] { 1 }));
        await Until(() => fake.Events.Count(e => e == "aer") >= 2, "the AER to be re-armed");
    }

    [Test]
    public async Task KeepAlive_SentEveryHalfKato_NotBefore()
    {
        var fake = new FakeController();
        var kato = TimeSpan.FromSeconds(10);
        await using var controller = await NvmeController.ConnectAsync(fake.Options(1) with { KeepAliveTimeout = kato }, fake.Factory);

        for (var n = 1; n <= 3; n++)
        {
            fake.Time.Advance(kato / 2 - FakeClock.Tick);
            await Settle();
            Assert.That(Volatile.Read(ref fake.KeepAlives), Is.EqualTo(n - 1), $"keep alive {n} sent before KATO/2");

            fake.Time.Advance(FakeClock.Tick);
            await Until(() => Volatile.Read(ref fake.KeepAlives) == n, $"keep alive {n} at KATO/2");
        }
    }

    [Test]
    public async Task Discovery_ReadsHeaderThenEntriesAtLpo1024()
    {
        var fake = new FakeController();
        var entries = new[]
        {
            new DiscoveryLogEntry(3, 1, 2, 0, 1, 0xFFFF, 32, "4420", FakeController.Nqn, "127.0.0.1", 0),
            new DiscoveryLogEntry(3, 1, 3, 0, 1, 0xFFFF, 32, "8009", WellKnownNqns.Discovery, "127.0.0.1", 0),
        };
        var log = DiscoveryLog.Build(5, entries);
        var offsets = new List<ulong>();
        fake.OnCommand = async (session, command) =>
        {
            if (command.Opcode != AdminOpcodes.GetLogPage || (command.Cdw10 & 0xFF) != LogPageIds.Discovery)
            {
                return false;
            }

            var length = (int)((command.Cdw10 >> 16) + 1) * 4;
            var offset = command.Cdw12 | ((ulong)command.Cdw13 << 32);
            offsets.Add(offset);
            await session.SendReadDataAsync(command.CommandId, log.AsMemory((int)offset, length), length, success: false);
            return true;
        };

        var read = await NvmeDiscovery.GetLogAsync(fake.Options() with { SubsystemNqn = FakeController.Nqn }, fake.Factory);

        Assert.That(read, Is.EqualTo(entries.Select(NvmeDiscoveryEntry.From)));
        Assert.That(offsets, Is.EqualTo(new ulong[] { 0, 1024, 0 }));
    }
}
