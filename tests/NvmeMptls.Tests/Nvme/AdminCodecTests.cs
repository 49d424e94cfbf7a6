using NvmeMptls.Transport.Nvme;

namespace NvmeMptls.Tests.Nvme;

/// <summary>Identify, NSID lists, descriptor lists, Get Log Page, features, AEN and register fields (reference §2.4–§3.8).</summary>
public sealed class AdminCodecTests
{
    [Test]
    public void IdentifyCns_Values_MatchReference()
    {
        Assert.Multiple(() =>
        {
            Assert.That(IdentifyCns.Namespace, Is.EqualTo(0x00));
            Assert.That(IdentifyCns.Controller, Is.EqualTo(0x01));
            Assert.That(IdentifyCns.ActiveNamespaceList, Is.EqualTo(0x02));
            Assert.That(IdentifyCns.NamespaceDescriptorList, Is.EqualTo(0x03));
            Assert.That(IdentifyCns.IoCommandSetNamespace, Is.EqualTo(0x05));
            Assert.That(IdentifyCns.IoCommandSetController, Is.EqualTo(0x06));
            Assert.That(IdentifyCns.IndependentNamespace, Is.EqualTo(0x08));
            Assert.That(IdentifyCns.DataSize, Is.EqualTo(4096));
        });
    }

    [Test]
    public void IdentifyCommand_WritesByteExactSqeAndReadsBack()
    {
        var command = IdentifyCns.Command(IdentifyCns.IoCommandSetController, nsid: 0x01020304, controllerId: 0x0506, commandSet: 0x07);
        var sqe = new byte[NvmeCommand.Size];
        command.Write(sqe);
        Assert.Multiple(() =>
        {
            Assert.That(sqe[0], Is.EqualTo(AdminOpcodes.Identify));
            Assert.That(sqe[4..8], Is.EqualTo(new byte[] { 0x04, 0x03, 0x02, 0x01 }));
            Assert.That(sqe[40..48], Is.EqualTo(new byte[] { 0x06, 0x00, 0x06, 0x05, 0x00, 0x00, 0x00, 0x07 }));
            var read = NvmeCommand.Read(sqe);
            Assert.That(IdentifyCns.CnsOf(read), Is.EqualTo(IdentifyCns.IoCommandSetController));
            Assert.That(IdentifyCns.CommandSetOf(read), Is.EqualTo(0x07));
        });
    }

    [Test]
    public void NamespaceIdList_WritesLittleEndianAndReadsUpToTheZero()
    {
        var page = new byte[NamespaceIdList.Size];
        NamespaceIdList.Write(page, 0, 1);
        NamespaceIdList.Write(page, 1, 0x01020304);
        NamespaceIdList.Write(page, 3, 9); // after the terminator: not part of the list
        var nsids = new List<uint>();
        Assert.Multiple(() =>
        {
            Assert.That(page[..8], Is.EqualTo(new byte[] { 0x01, 0x00, 0x00, 0x00, 0x04, 0x03, 0x02, 0x01 }));
            Assert.That(NamespaceIdList.Read(page, nsids), Is.EqualTo(2));
            Assert.That(nsids, Is.EqualTo(new uint[] { 1, 0x01020304 }));
            Assert.That(NamespaceIdList.MaxEntries, Is.EqualTo(1024));
            Assert.That(NamespaceIdList.Overflow, Is.EqualTo(0xFFFFFFFFu));
        });
    }

    [Test]
    public void NamespaceIdList_Full_ReadsAll1024()
    {
        var page = new byte[NamespaceIdList.Size];
        for (var i = 0; i < NamespaceIdList.MaxEntries; i++)
        {
            NamespaceIdList.Write(page, i, (uint)i + 1);
        }

        var nsids = new List<uint>();
        Assert.That(NamespaceIdList.Read(page, nsids), Is.EqualTo(1024));
        Assert.That(nsids[^1], Is.EqualTo(1024u));
    }

    [Test]
    public void NamespaceDescriptors_Write_IsByteExactAndReadsBack()
    {
        var uuid = Guid.Parse("0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0");
        var nguid = Guid.Parse("00112233-4455-6677-8899-aabbccddeeff");
        var page = new byte[NamespaceDescriptors.Size];
        NamespaceDescriptors.Write(page, uuid, nguid);

        var expected = new byte[48];
        new byte[] { 3, 16, 0, 0 }.CopyTo(expected, 0);
        Convert.FromHexString("0f1e2d3c4b5a69788796a5b4c3d2e1f0").CopyTo(expected, 4);
        new byte[] { 2, 16, 0, 0 }.CopyTo(expected, 20);
        Convert.FromHexString("00112233445566778899aabbccddeeff").CopyTo(expected, 24);
        new byte[] { 4, 1, 0, 0, 0 }.CopyTo(expected, 40);
        Assert.Multiple(() =>
        {
            Assert.That(page[..48], Is.EqualTo(expected));
            Assert.That(page[48..], Is.All.EqualTo((byte)0));
            Assert.That(NamespaceDescriptors.Read(page), Is.EqualTo(new NamespaceDescriptorList(null, nguid, uuid, NamespaceDescriptors.CommandSetNvm)));
        });
    }

    [Test]
    public void NamespaceDescriptors_Read_DecodesEui64AndSkipsWrongLengths()
    {
        var page = new byte[NamespaceDescriptors.Size];
        new byte[] { 1, 8, 0, 0, 0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77 }.CopyTo(page, 0);
        new byte[] { 3, 4, 0, 0, 0xAA, 0xBB, 0xCC, 0xDD }.CopyTo(page, 12);   // UUID with NIDL 4: skipped
        new byte[] { 9, 2, 0, 0, 0x01, 0x02 }.CopyTo(page, 20);               // unknown type: skipped
        new byte[] { 4, 1, 0, 0, 0x02 }.CopyTo(page, 26);
        Assert.That(NamespaceDescriptors.Read(page), Is.EqualTo(new NamespaceDescriptorList(0x0011223344556677, null, null, 2)));
    }

    [Test]
    public void NamespaceDescriptors_Read_DescriptorPastTheEnd_EndsTheList()
    {
        var list = new byte[] { 4, 1, 0, 0, 0, 2, 16, 0, 0, 1, 2, 3 };
        Assert.That(NamespaceDescriptors.Read(list), Is.EqualTo(new NamespaceDescriptorList(null, null, null, 0)));
    }

    [Test]
    public void GetLogPage_WritesByteExactSqeAndRoundTrips()
    {
        var command = new GetLogPageCommand(LogPageIds.Discovery, Nsid: 0, Offset: 0x1_0000_0400, Length: 0x40000 * 4 + 8, RetainAsyncEvent: true);
        var sqe = new byte[NvmeCommand.Size];
        command.ToCommand().Write(sqe);
        Assert.Multiple(() =>
        {
            Assert.That(sqe[0], Is.EqualTo(AdminOpcodes.GetLogPage));
            // CDW10: LID 70h, RAE, NUMDL 0001h; CDW11: NUMDU 0004h; CDW12/13: LPO.
            Assert.That(sqe[40..56], Is.EqualTo(new byte[] { 0x70, 0x80, 0x01, 0x00, 0x04, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00 }));
            Assert.That(GetLogPageCommand.Read(NvmeCommand.Read(sqe)), Is.EqualTo(command));
        });
    }

    [Test]
    public void Features_NumberOfQueues_IsZerosBasedInBothHalves()
    {
        Assert.Multiple(() =>
        {
            Assert.That(Features.EncodeQueueCount(4, 2), Is.EqualTo(0x0001_0003u));
            Assert.That(Features.DecodeQueueCount(0x0001_0003), Is.EqualTo((4, 2)));
            Assert.That(Features.DecodeQueueCount(0xFFFF_0000), Is.EqualTo((1, 65536)), "FFFFh reads as 65536: reserved");
        });
    }

    [Test]
    public void Features_SetAndGet_PutFidSvAndSelWhereTheReferenceSays()
    {
        var get = Features.Get(FeatureIds.KeepAliveTimer, 0, select: Features.SelectSupportedCapabilities);
        var set = Features.Set(FeatureIds.NumberOfQueues, 0x0001_0003) with { Cdw10 = FeatureIds.NumberOfQueues | Features.SaveBit };
        Assert.Multiple(() =>
        {
            Assert.That(get.Opcode, Is.EqualTo(AdminOpcodes.GetFeatures));
            Assert.That(get.Cdw10, Is.EqualTo(0x0000_030Fu));
            Assert.That(Features.FeatureIdOf(get), Is.EqualTo(FeatureIds.KeepAliveTimer));
            Assert.That(Features.SelectOf(get), Is.EqualTo(3));
            Assert.That(set.Opcode, Is.EqualTo(AdminOpcodes.SetFeatures));
            Assert.That(Features.SaveOf(set), Is.True);
            Assert.That(Features.SaveOf(Features.Set(FeatureIds.NumberOfQueues, 0)), Is.False);
            Assert.That(set.Cdw11, Is.EqualTo(0x0001_0003u));
        });
    }

    [Test]
    public void AsyncEvent_Dw0_MatchesReferenceNotices()
    {
        Assert.Multiple(() =>
        {
            Assert.That(AsyncEvent.NamespaceAttributeChanged.ToDw0(), Is.EqualTo(0x0004_0002u));
            Assert.That(AsyncEvent.DiscoveryLogChanged.ToDw0(), Is.EqualTo(0x0070_F002u));
            Assert.That(AsyncEvent.FromDw0(0x0070_F002), Is.EqualTo(AsyncEvent.DiscoveryLogChanged));
            Assert.That(AsyncEvent.FromDw0(0xFF04_0002), Is.EqualTo(AsyncEvent.NamespaceAttributeChanged), "bits 31:24 reserved");
            Assert.That(AsyncEvent.ConfigNamespaceAttribute, Is.EqualTo(0x100u));
            Assert.That(AsyncEvent.ConfigDiscoveryLogChange, Is.EqualTo(0x8000_0000u));
        });
    }

    [Test]
    public void ControllerRegisters_Fields_MatchReference()
    {
        var cap = ControllerRegisters.Capabilities(1024, 15);
        var cc = ControllerRegisters.CcQueueEntrySizes | ControllerRegisters.CcEnable | ControllerRegisters.CcShutdownNormal;
        Assert.Multiple(() =>
        {
            Assert.That(cap, Is.EqualTo(0x0000_0020_0F00_03FFUL), "MQES 1023, TO 15, CSS.NVM");
            Assert.That(ControllerRegisters.MaxQueueEntries(cap), Is.EqualTo(1024));
            Assert.That(ControllerRegisters.ReadyTimeout(cap), Is.EqualTo(TimeSpan.FromSeconds(8)));
            Assert.That(ControllerRegisters.MinPageShift(cap | (2UL << 48)), Is.EqualTo(14));
            Assert.That(cc, Is.EqualTo(0x0046_4001u));
            Assert.That(ControllerRegisters.CcIoSqEntrySize(cc), Is.EqualTo(6u));
            Assert.That(ControllerRegisters.CcIoCqEntrySize(cc), Is.EqualTo(4u));
            Assert.That(ControllerRegisters.CcShutdownNotification(cc), Is.EqualTo(1u));
            Assert.That(ControllerRegisters.CcMemoryPageSize(3u << 7), Is.EqualTo(3u));
            Assert.That(ControllerRegisters.CcCommandSet(6u << 4), Is.EqualTo(6u));
            Assert.That(ControllerRegisters.CstsShutdownComplete, Is.EqualTo(0x8u));
            Assert.That(ControllerRegisters.CstsShutdownMask, Is.EqualTo(0xCu));
        });
    }

    [Test]
    public void PropertyGetAndSet_WriteByteExactSqes()
    {
        var get = new byte[NvmeCommand.Size];
        ControllerRegisters.PropertyGet(PropertyOffsets.Cap, eightBytes: true).Write(get);
        var set = new byte[NvmeCommand.Size];
        ControllerRegisters.PropertySet(PropertyOffsets.Cc, 0x0046_0001).Write(set);
        Assert.Multiple(() =>
        {
            Assert.That(get[0], Is.EqualTo(0x7F));
            Assert.That(get[4], Is.EqualTo(FabricsOpcodes.PropertyGet));
            Assert.That(get[40..48], Is.EqualTo(new byte[] { 1, 0, 0, 0, 0, 0, 0, 0 }));
            Assert.That(ControllerRegisters.IsEightByteProperty(NvmeCommand.Read(get)), Is.True);
            Assert.That(set[4], Is.EqualTo(FabricsOpcodes.PropertySet));
            Assert.That(set[40..52], Is.EqualTo(new byte[] { 0, 0, 0, 0, 0x14, 0, 0, 0, 0x01, 0x00, 0x46, 0x00 }));
            Assert.That(ControllerRegisters.IsEightByteProperty(NvmeCommand.Read(set)), Is.False);
        });
    }

    [Test]
    public void IdentifyController_VendorIdsAndOui_KnownBytes()
    {
        var page = new byte[IdentifyController.Size];
        new IdentifyController { VendorId = 0x8086, SubsystemVendorId = 0x1AF4, IeeeOui = 0x5CD2E4 }.Write(page);
        Assert.That(page[0..4], Is.EqualTo(new byte[] { 0x86, 0x80, 0xF4, 0x1A }));
        Assert.That(page[73..76], Is.EqualTo(new byte[] { 0xE4, 0xD2, 0x5C }), "IEEE OUI, least significant byte first");
        var back = IdentifyController.Read(page);
        Assert.That((back.VendorId, back.SubsystemVendorId, back.IeeeOui), Is.EqualTo(((ushort)0x8086, (ushort)0x1AF4, 0x5CD2E4u)));
    }

    [Test]
    public void TemperatureThreshold_Encoding_KnownValues()
    {
        Assert.That(Features.EncodeTemperatureThreshold(343, 0, Features.ThresholdOver), Is.EqualTo(0x0000_0157u));
        Assert.That(Features.EncodeTemperatureThreshold(273, 0xF, Features.ThresholdUnder), Is.EqualTo(0x001F_0111u));
        Assert.That(Features.DecodeTemperatureThreshold(0x0023_0150u), Is.EqualTo(((ushort)0x150, (byte)3, (byte)2)));
    }
}
