using System.Buffers.Binary;
using NvmeMptls.TestKit;
using NvmeMptls.Transport.Nvme;

namespace NvmeMptls.Tests.Target.Controllers;

/// <summary>Identify's LPA, Vendor ID and OUI against the log pages each controller kind really serves.</summary>
public sealed class LogPageTests
{
    private static async Task<IdentifyController> IdentifyAsync(RawNvmeHost host)
    {
        var page = new byte[4096];
        var r = await host.ExecuteAsync(host.Command(AdminOpcodes.Identify, cdw10: 1, length: 4096), default, page);
        Assert.That(r.Status.IsSuccess, Is.True);
        return IdentifyController.Read(page);
    }

    private static Task<NvmeCompletion> GetLogAsync(RawNvmeHost host, byte lid, byte[] buffer, uint nsid = 0) =>
        host.ExecuteAsync(host.Command(AdminOpcodes.GetLogPage, nsid, cdw10: lid | ((uint)(buffer.Length / 4 - 1) << 16), length: (uint)buffer.Length), default, buffer);

    [Test]
    public async Task IoController_LpaClaimsSmartPerNamespaceEffectsAndExtendedData_AndServesThem()
    {
        await using var target = new InMemoryTarget();
        var admin = await FeaturesTests.AdminAsync(target);
        var id = await IdentifyAsync(admin);
        Assert.That(id.Lpa, Is.EqualTo(0x07));
        Assert.That((await GetLogAsync(admin, LogPageIds.CommandsSupportedAndEffects, new byte[4096])).Status.IsSuccess, Is.True);
        Assert.That((await GetLogAsync(admin, LogPageIds.SmartHealth, new byte[512], nsid: 1)).Status.IsSuccess, Is.True);
        Assert.That(await FeaturesTests.ErrorCountAsync(admin), Is.Zero);
    }

    [Test]
    public async Task DiscoveryController_LpaClaimsOnlyExtendedData_AndHasNoEffectsLog()
    {
        await using var target = new InMemoryTarget();
        var host = await FeaturesTests.DiscoveryAsync(target);
        var id = await IdentifyAsync(host);
        Assert.That(id.Lpa, Is.EqualTo(IdentifyController.LpaExtendedData));
        Assert.That((await GetLogAsync(host, LogPageIds.CommandsSupportedAndEffects, new byte[4096])).Status, Is.EqualTo(NvmeStatus.Make(1, 0x09, dnr: true)));
        Assert.That((await GetLogAsync(host, LogPageIds.ErrorInformation, new byte[64])).Status.IsSuccess, Is.True);
    }

    [Test]
    public async Task EffectsLog_KnownAnswer()
    {
        await using var target = new InMemoryTarget();
        var admin = await FeaturesTests.AdminAsync(target);
        var log = new byte[4096];
        Assert.That((await GetLogAsync(admin, LogPageIds.CommandsSupportedAndEffects, log)).Status.IsSuccess, Is.True);
        uint Acs(int opcode) => BinaryPrimitives.ReadUInt32LittleEndian(log.AsSpan(opcode * 4));
        uint Iocs(int opcode) => BinaryPrimitives.ReadUInt32LittleEndian(log.AsSpan(1024 + (opcode * 4)));

        // Bit 0 CSUPP, bit 1 LBCC; no command here changes namespace capability or inventory (NCC, NIC) or the controller (CCC).
        var admins = new Dictionary<int, uint> { [0x02] = 1, [0x06] = 1, [0x08] = 1, [0x09] = 1, [0x0A] = 1, [0x0C] = 1, [0x18] = 1 };
        var ios = new Dictionary<int, uint> { [0x00] = 1, [0x01] = 3, [0x02] = 1, [0x05] = 1, [0x08] = 3, [0x09] = 3, [0x0D] = 1, [0x0E] = 1, [0x11] = 1, [0x15] = 1 };
        for (var op = 0; op < 256; op++)
        {
            Assert.That(Acs(op), Is.EqualTo(admins.GetValueOrDefault(op)), $"admin opcode {op:x2}h");
            Assert.That(Iocs(op), Is.EqualTo(ios.GetValueOrDefault(op)), $"I/O opcode {op:x2}h");
        }

        Assert.That(log.AsSpan(2048).ContainsAnyExcept((byte)0), Is.False, "reserved bytes 2048-4095");
    }

    [Test]
    public async Task Identify_VendorIdsAndOui_AreZeroLikeLinuxNvmet()
    {
        await using var target = new InMemoryTarget();
        var admin = await FeaturesTests.AdminAsync(target);
        var id = await IdentifyAsync(admin);
        Assert.That((id.VendorId, id.SubsystemVendorId, id.IeeeOui), Is.EqualTo(((ushort)0, (ushort)0, 0u)));
    }
}
