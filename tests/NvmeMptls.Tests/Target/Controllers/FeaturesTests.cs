using System.Buffers.Binary;
using NvmeMptls.TestKit;
using NvmeMptls.Transport.Nvme;

namespace NvmeMptls.Tests.Target.Controllers;

/// <summary>Get/Set Features on an I/O and a discovery controller, over the in-memory queue: values, defaults, errors.</summary>
public sealed class FeaturesTests
{
    private static readonly NvmeStatus InvalidFieldDnr = NvmeStatus.Make(0, 0x02, dnr: true);

    internal static async Task<RawNvmeHost> AdminAsync(InMemoryTarget target)
    {
        var admin = target.Connect();
        await admin.BringUpAdminAsync(InMemoryTarget.SubsystemNqn);
        return admin;
    }

    private static Task<NvmeCompletion> Get(RawNvmeHost host, byte fid, uint cdw11 = 0, uint nsid = 0, byte select = Features.SelectCurrent) =>
        host.ExecuteAsync(host.Command(AdminOpcodes.GetFeatures, nsid, cdw10: fid | ((uint)select << 8), cdw11: cdw11), default, null);

    private static Task<NvmeCompletion> Set(RawNvmeHost host, byte fid, uint value, uint nsid = 0, bool save = false) =>
        host.ExecuteAsync(host.Command(AdminOpcodes.SetFeatures, nsid, cdw10: fid | (save ? Features.SaveBit : 0), cdw11: value), default, null);

    /// <summary>The Error Information log's newest entry count: 0 when no command has failed.</summary>
    internal static async Task<ulong> ErrorCountAsync(RawNvmeHost host)
    {
        var log = new byte[64];
        var r = await host.ExecuteAsync(host.Command(AdminOpcodes.GetLogPage, cdw10: LogPageIds.ErrorInformation | (15u << 16), length: 64), default, log);
        Assert.That(r.Status.IsSuccess, Is.True, r.Status.ToString());
        return BinaryPrimitives.ReadUInt64LittleEndian(log);
    }

    [TestCase(FeatureIds.Arbitration, 0x7u)]                      // AB 111b: no burst limit
    [TestCase(FeatureIds.PowerManagement, 0u)]                    // power state 0, no workload hint
    [TestCase(FeatureIds.TemperatureThreshold, 343u)]             // composite, over: 343 K
    [TestCase(FeatureIds.ErrorRecovery, 0u)]                      // TLER 0: no time limit
    [TestCase(FeatureIds.VolatileWriteCache, 1u)]                 // enabled
    [TestCase(FeatureIds.WriteAtomicityNormal, 0u)]
    [TestCase(FeatureIds.AsyncEventConfig, 0u)]
    [TestCase(FeatureIds.KeepAliveTimer, 0u)]                     // the raw host connects with KATO 0
    public async Task GetFeatures_MandatoryFeature_ReturnsDefaultWithoutErrorLogEntry(byte fid, uint expected)
    {
        await using var target = new InMemoryTarget();
        var admin = await AdminAsync(target);
        var r = await Get(admin, fid, nsid: fid == FeatureIds.ErrorRecovery ? 1u : 0u);
        Assert.That(r.Status.IsSuccess, Is.True, r.Status.ToString());
        Assert.That(r.Dw0, Is.EqualTo(expected));
        Assert.That(await ErrorCountAsync(admin), Is.Zero);
    }

    [Test]
    public async Task GetFeatures_NumberOfQueues_ReportsLimitInBothHalves()
    {
        await using var target = new InMemoryTarget();
        var admin = await AdminAsync(target);
        var max = target.Registry.Limits.MaxIoQueues - 1;
        Assert.That((await Get(admin, FeatureIds.NumberOfQueues)).Dw0, Is.EqualTo((uint)max | ((uint)max << 16)));
    }

    [TestCase(FeatureIds.Arbitration, 0x0302_01FFu, 0x0302_0107u)] // reserved bits 7:3 cleared
    [TestCase(FeatureIds.PowerManagement, 0x60u, 0x60u)]            // WH 011b kept, PS 0
    [TestCase(FeatureIds.WriteAtomicityNormal, 1u, 1u)]
    [TestCase(FeatureIds.VolatileWriteCache, 0u, 0u)]
    [TestCase(FeatureIds.AsyncEventConfig, 0x100u, 0x100u)]
    [TestCase(FeatureIds.KeepAliveTimer, 5000u, 5000u)]
    public async Task SetFeatures_ThenGet_ReturnsStoredValue(byte fid, uint value, uint expected)
    {
        await using var target = new InMemoryTarget();
        var admin = await AdminAsync(target);
        Assert.That((await Set(admin, fid, value)).Status.IsSuccess, Is.True);
        Assert.That((await Get(admin, fid)).Dw0, Is.EqualTo(expected));
        Assert.That((await Get(admin, fid, select: Features.SelectDefault)).Status.IsSuccess, Is.True);
        Assert.That(await ErrorCountAsync(admin), Is.Zero);
    }

    [Test]
    public async Task SetFeatures_StateIsPerController()
    {
        await using var target = new InMemoryTarget();
        var first = await AdminAsync(target);
        var second = await AdminAsync(target);
        Assert.That((await Set(first, FeatureIds.Arbitration, 0x3)).Status.IsSuccess, Is.True);
        Assert.That((await Get(first, FeatureIds.Arbitration)).Dw0, Is.EqualTo(0x3u));
        Assert.That((await Get(second, FeatureIds.Arbitration)).Dw0, Is.EqualTo(0x7u));
    }

    [Test]
    public async Task SetFeatures_PowerStateBeyondNpss_ReturnsInvalidField()
    {
        await using var target = new InMemoryTarget();
        var admin = await AdminAsync(target);
        Assert.That((await Set(admin, FeatureIds.PowerManagement, 1)).Status, Is.EqualTo(InvalidFieldDnr));
    }

    [Test]
    public async Task TemperatureThreshold_OverAndUnderOfComposite_AreKeptApart()
    {
        await using var target = new InMemoryTarget();
        var admin = await AdminAsync(target);
        var under = Features.EncodeTemperatureThreshold(0, Features.TemperatureSensorComposite, Features.ThresholdUnder);
        Assert.That((await Get(admin, FeatureIds.TemperatureThreshold, under)).Dw0, Is.EqualTo(0x0010_0000u), "under: 0 K, THSEL echoed");
        Assert.That((await Set(admin, FeatureIds.TemperatureThreshold, Features.EncodeTemperatureThreshold(273, 0, Features.ThresholdUnder))).Status.IsSuccess, Is.True);
        Assert.That((await Set(admin, FeatureIds.TemperatureThreshold, Features.EncodeTemperatureThreshold(350, Features.TemperatureSensorAll, Features.ThresholdOver))).Status.IsSuccess, Is.True);
        Assert.That((await Get(admin, FeatureIds.TemperatureThreshold, under)).Dw0, Is.EqualTo(0x0010_0111u));
        Assert.That((await Get(admin, FeatureIds.TemperatureThreshold, 0)).Dw0, Is.EqualTo(350u));
        Assert.That((await Get(admin, FeatureIds.TemperatureThreshold, 0, select: Features.SelectDefault)).Dw0, Is.EqualTo(343u));
    }

    [TestCase(0x0020_0000u)] // THSEL 10b reserved
    [TestCase(0x0009_0000u)] // TMPSEL 1001b reserved
    [TestCase(0x000F_0000u)] // TMPSEL 1111b is for Set Features only
    public async Task GetTemperatureThreshold_ReservedSelection_ReturnsInvalidField(uint cdw11)
    {
        await using var target = new InMemoryTarget();
        var admin = await AdminAsync(target);
        Assert.That((await Get(admin, FeatureIds.TemperatureThreshold, cdw11)).Status, Is.EqualTo(InvalidFieldDnr));
    }

    [Test]
    public async Task GetTemperatureThreshold_UnimplementedSensor_ReadsZeroAndCannotBeSet()
    {
        await using var target = new InMemoryTarget();
        var admin = await AdminAsync(target);
        var sensor2 = Features.EncodeTemperatureThreshold(0, 2, Features.ThresholdOver);
        var r = await Get(admin, FeatureIds.TemperatureThreshold, sensor2);
        Assert.That(r.Status.IsSuccess, Is.True);
        Assert.That(r.Dw0, Is.EqualTo(0x0002_0000u));
        Assert.That((await Set(admin, FeatureIds.TemperatureThreshold, sensor2 | 300)).Status, Is.EqualTo(InvalidFieldDnr));
    }

    [Test]
    public async Task ErrorRecovery_IsPerNamespace()
    {
        await using var target = new InMemoryTarget();
        var admin = await AdminAsync(target);
        Assert.That((await Set(admin, FeatureIds.ErrorRecovery, 50, nsid: NamespaceIdList.Broadcast)).Status.IsSuccess, Is.True);
        Assert.That((await Set(admin, FeatureIds.ErrorRecovery, 20, nsid: 1)).Status.IsSuccess, Is.True);
        Assert.That((await Get(admin, FeatureIds.ErrorRecovery, nsid: 1)).Dw0, Is.EqualTo(20u));
        Assert.That((await Get(admin, FeatureIds.ErrorRecovery, nsid: NamespaceIdList.Broadcast)).Dw0, Is.EqualTo(50u));
        Assert.That((await Get(admin, FeatureIds.ErrorRecovery, nsid: 1, select: Features.SelectDefault)).Dw0, Is.Zero);
        Assert.That((await Get(admin, FeatureIds.ErrorRecovery, nsid: 9)).Status, Is.EqualTo(NvmeStatus.Make(0, 0x0B, dnr: true)));
        Assert.That((await Set(admin, FeatureIds.ErrorRecovery, Features.ErrorRecoveryDulbe, nsid: 1)).Status, Is.EqualTo(InvalidFieldDnr), "DULBE without NSFEAT.DAE");
    }

    [TestCase(FeatureIds.Arbitration, 0x4u)]
    [TestCase(FeatureIds.ErrorRecovery, 0x6u)] // changeable, namespace specific
    [TestCase(FeatureIds.TemperatureThreshold, 0x4u)]
    [TestCase(FeatureIds.WriteAtomicityNormal, 0x4u)]
    [TestCase(FeatureIds.HostIdentifier, 0x0u)]
    public async Task GetFeatures_SupportedCapabilities_NeverSaveable(byte fid, uint expected)
    {
        await using var target = new InMemoryTarget();
        var admin = await AdminAsync(target);
        var r = await Get(admin, fid, nsid: 1, select: Features.SelectSupportedCapabilities);
        Assert.That(r.Status.IsSuccess, Is.True);
        Assert.That(r.Dw0, Is.EqualTo(expected));
    }

    [Test]
    public async Task SetFeatures_Save_ReturnsNotSaveable()
    {
        await using var target = new InMemoryTarget();
        var admin = await AdminAsync(target);
        Assert.That((await Set(admin, FeatureIds.Arbitration, 0, save: true)).Status, Is.EqualTo(NvmeStatus.Make(1, 0x0D, dnr: true)));
    }

    [TestCase(FeatureIds.InterruptCoalescing)]
    [TestCase(FeatureIds.InterruptVectorConfig)]
    [TestCase((byte)0x03)] // LBA Range Type: optional, not supported
    public async Task GetFeatures_PcieOnlyOrOptional_ReturnsInvalidField(byte fid)
    {
        await using var target = new InMemoryTarget();
        var admin = await AdminAsync(target);
        Assert.That((await Get(admin, fid)).Status, Is.EqualTo(InvalidFieldDnr));
    }

    [Test]
    public async Task SetFeatures_HostIdentifier_ReturnsCommandSequenceError()
    {
        await using var target = new InMemoryTarget();
        var admin = await AdminAsync(target);
        Assert.That((await Set(admin, FeatureIds.HostIdentifier, 1)).Status, Is.EqualTo(NvmeStatus.Make(0, 0x0C, dnr: true)));
    }

    [TestCase(FeatureIds.KeepAliveTimer, true)]
    [TestCase(FeatureIds.AsyncEventConfig, true)]
    [TestCase(FeatureIds.Arbitration, false)]
    [TestCase(FeatureIds.NumberOfQueues, false)]
    [TestCase(FeatureIds.ErrorRecovery, false)]
    public async Task Discovery_GetFeatures_OnlyDiscoveryFeatures(byte fid, bool supported)
    {
        await using var target = new InMemoryTarget();
        var host = await DiscoveryAsync(target);
        var r = await Get(host, fid);
        Assert.That(r.Status.IsSuccess, Is.EqualTo(supported), r.Status.ToString());
    }

    internal static async Task<RawNvmeHost> DiscoveryAsync(InMemoryTarget target)
    {
        var host = target.Connect();
        await host.InitializeAsync();
        Assert.That((await host.ConnectAsync(WellKnownNqns.Discovery, 0, 31)).Status.IsSuccess, Is.True);
        Assert.That((await host.PropertySetAsync(PropertyOffsets.Cc, 1)).Status.IsSuccess, Is.True);
        return host;
    }
}
