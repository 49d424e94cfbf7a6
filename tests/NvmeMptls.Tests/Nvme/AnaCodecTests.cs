using System.Buffers.Binary;
using NvmeMptls.Transport.Nvme;

namespace NvmeMptls.Tests.Nvme;

/// <summary>The ANA structures byte for byte: log page 0Ch, the Identify fields, the notice and the path statuses.</summary>
public sealed class AnaCodecTests
{
    [Test]
    public void AnaLogPage_TwoGroups_KnownAnswer()
    {
        var page = new AnaLogPage(0x0102030405060708, [
            new AnaGroupDescriptor(1, 7, AnaState.Optimized, [1u, 3u]),
            new AnaGroupDescriptor(0x80, 9, AnaState.Inaccessible, []),
        ]).ToArray(groupsOnly: false);

        var expected = new byte[16 + 32 + 8 + 32];
        new byte[] { 0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01, 0x02, 0x00 }.CopyTo(expected, 0); // CHGCNT, NGRPS 2
        new byte[] { 0x01, 0, 0, 0, 0x02, 0, 0, 0, 0x07, 0, 0, 0, 0, 0, 0, 0, 0x01 }.CopyTo(expected, 16); // ANAGRPID 1, NNSIDS 2, CHGCNT 7, optimized
        new byte[] { 0x01, 0, 0, 0, 0x03, 0, 0, 0 }.CopyTo(expected, 48); // NSIDs 1 and 3
        new byte[] { 0x80, 0, 0, 0, 0x00, 0, 0, 0, 0x09, 0, 0, 0, 0, 0, 0, 0, 0x03 }.CopyTo(expected, 56); // group 128, no NSIDs, inaccessible
        Assert.That(page, Is.EqualTo(expected));
    }

    [Test]
    public void AnaLogPage_ReturnGroupsOnly_OmitsNsidsAndZeroesNnsids()
    {
        var page = new AnaLogPage(5, [new AnaGroupDescriptor(2, 5, AnaState.NonOptimized, [4u, 5u, 6u])]).ToArray(groupsOnly: true);
        Assert.Multiple(() =>
        {
            Assert.That(page, Has.Length.EqualTo(16 + 32));
            Assert.That(BinaryPrimitives.ReadUInt32LittleEndian(page.AsSpan(16 + 4)), Is.Zero, "NNSIDS");
            Assert.That(page[16 + 16], Is.EqualTo(0x02));
        });
    }

    [Test]
    public void AnaLogPage_RoundTrip_WithZeroPaddingAfterTheLastGroup()
    {
        var original = new AnaLogPage(42, [
            new AnaGroupDescriptor(1, 40, AnaState.Optimized, [1u]),
            new AnaGroupDescriptor(2, 41, AnaState.Change, [2u, 9u]),
            new AnaGroupDescriptor(3, 42, AnaState.PersistentLoss, []),
        ]);
        var bytes = new byte[AnaLogPage.MaxSize(128, 1024)];
        original.ToArray(false).CopyTo(bytes, 0);
        Assert.That(AnaLogPage.TryRead(bytes, 128, out var read, out var error), Is.True, error);
        Assert.Multiple(() =>
        {
            Assert.That(read!.ChangeCount, Is.EqualTo(42UL));
            Assert.That(read.Groups.Select(g => (g.GroupId, g.ChangeCount, g.State)), Is.EqualTo(original.Groups.Select(g => (g.GroupId, g.ChangeCount, g.State))));
            Assert.That(read.Groups[1].Nsids, Is.EqualTo(new uint[] { 2, 9 }));
        });
    }

    [TestCase(0u, (byte)1, "ANAGRPID 0")]
    [TestCase(129u, (byte)1, "ANAGRPID 129")]
    [TestCase(1u, (byte)0, "reserved ANA state 00h")]
    [TestCase(1u, (byte)5, "reserved ANA state 05h")]
    public void AnaLogPage_BadDescriptor_IsRefusedNamingTheField(uint group, byte state, string expected)
    {
        var bytes = new AnaLogPage(1, [new AnaGroupDescriptor(1, 1, AnaState.Optimized, [])]).ToArray(false);
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(16), group);
        bytes[16 + 16] = state;
        Assert.That(AnaLogPage.TryRead(bytes, 128, out _, out var error), Is.False);
        Assert.That(error, Does.Contain(expected));
    }

    [Test]
    public void AnaLogPage_NsidListPastTheEnd_OrNotAscending_IsRefused()
    {
        var bytes = new AnaLogPage(1, [new AnaGroupDescriptor(1, 1, AnaState.Optimized, [5u, 6u])]).ToArray(false);
        var longList = (byte[])bytes.Clone();
        BinaryPrimitives.WriteUInt32LittleEndian(longList.AsSpan(16 + 4), 3);
        Assert.That(AnaLogPage.TryRead(longList, 128, out _, out var error), Is.False);
        Assert.That(error, Does.Contain("NNSIDS 3"));

        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(48 + 4), 5);
        Assert.That(AnaLogPage.TryRead(bytes, 128, out _, out error), Is.False);
        Assert.That(error, Does.Contain("not ascending"));

        Assert.That(AnaLogPage.TryRead(bytes.AsSpan(0, 40), 128, out _, out error), Is.False, "descriptor cut short");
        Assert.That(error, Does.Contain("runs past"));
    }

    [Test]
    public void IdentifyController_AnaFields_AtBytes342To351()
    {
        var page = new byte[4096];
        new IdentifyController
        {
            Cmic = IdentifyController.CmicMultiPort | IdentifyController.CmicMultiController | IdentifyController.CmicAnaReporting,
            AnaTransitionTime = 10,
            AnaCapabilities = IdentifyController.AnacapAllStates,
            AnaGroupIdMax = 128,
            AnaGroupCount = 0x01020304,
        }.Write(page);
        Assert.Multiple(() =>
        {
            Assert.That(page[76], Is.EqualTo(0x0B), "CMIC");
            Assert.That(page[342..352], Is.EqualTo(new byte[] { 10, 0x1F, 128, 0, 0, 0, 0x04, 0x03, 0x02, 0x01 }), "ANATT, ANACAP, ANAGRPMAX, NANAGRPID");
            var read = IdentifyController.Read(page);
            Assert.That((read.AnaTransitionTime, read.AnaCapabilities, read.AnaGroupIdMax, read.AnaGroupCount), Is.EqualTo(((byte)10, (byte)0x1F, 128u, 0x01020304u)));
        });
    }

    [Test]
    public void IdentifyNamespace_AnaGroupId_AtBytes92To95()
    {
        var page = new byte[4096];
        new IdentifyNamespace { AnaGroupId = 0x11223344, LbaDataSizeShift = 9 }.Write(page);
        Assert.That(page[92..96], Is.EqualTo(new byte[] { 0x44, 0x33, 0x22, 0x11 }));
        Assert.That(IdentifyNamespace.Read(page).AnaGroupId, Is.EqualTo(0x11223344u));
    }

    [Test]
    public void AnaChangeNotice_Dw0_IsNotice03hForLog0Ch()
    {
        Assert.That(AsyncEvent.AnaChange.ToDw0(), Is.EqualTo(0x000C0302u));
        Assert.That(AsyncEvent.ConfigAnaChange, Is.EqualTo(0x800u));
    }

    [Test]
    public void AnaStatuses_AreSct3WithoutDnr_AndMapFromStates()
    {
        Assert.Multiple(() =>
        {
            Assert.That(AnaStates.IoStatus(AnaState.PersistentLoss).ToCqeField(), Is.EqualTo((ushort)(0x301 << 1)));
            Assert.That(AnaStates.IoStatus(AnaState.Inaccessible).ToCqeField(), Is.EqualTo((ushort)(0x302 << 1)));
            Assert.That(AnaStates.IoStatus(AnaState.Change).ToCqeField(), Is.EqualTo((ushort)(0x303 << 1)));
            Assert.That(AnaStates.IoStatus(AnaState.Optimized).IsSuccess, Is.True);
            Assert.That(AnaStates.IoStatus(AnaState.NonOptimized).IsSuccess, Is.True);
            Assert.That(NvmeStatusCodes.IsAnaError(new NvmeStatus(NvmeStatusCodes.AnaInaccessible)), Is.True);
            Assert.That(NvmeStatusCodes.IsAnaError(new NvmeStatus(NvmeStatusCodes.InternalPathError)), Is.False);
            Assert.That(NvmeStatusCodes.IsPathRelated(new NvmeStatus(NvmeStatusCodes.InternalPathError)), Is.True);
        });
    }

    [Test]
    public void GetLogPage_LogSpecificField_IsCdw10Bits14To8()
    {
        var cmd = new GetLogPageCommand(LogPageIds.AsymmetricNamespaceAccess, 0xFFFFFFFF, 0, 4096, RetainAsyncEvent: true, SpecificField: AnaLogPage.LspReturnGroupsOnly).ToCommand();
        Assert.That(cmd.Cdw10, Is.EqualTo(0x03FF_810Cu));
        Assert.That(GetLogPageCommand.Read(cmd).SpecificField, Is.EqualTo(1));
    }
}
