using System.Buffers.Binary;
using System.Net;
using NvmeMptls.Target.Commands;
using NvmeMptls.Target.Subsystems;
using NvmeMptls.Transport.Nvme;

namespace NvmeMptls.Target.Controllers;

public sealed partial class TargetController
{
    /// <summary>Get Log Page: LID, NUMD (dwords) and LPO (byte offset) honoured for every page. Reference §3.6.</summary>
    private AdminResult GetLogPage(CommandContext ctx)
    {
        ref readonly var cmd = ref ctx.Command;
        var (lid, _, offset, length, rae, lsp) = GetLogPageCommand.Read(cmd);

        // The log page offset is in bytes and must be dword aligned.
        if ((offset & 3) != 0 || length > (ulong)ctx.TransferLength)
        {
            return AdminResult.Error(NvmeStatusCodes.InvalidField);
        }

        byte[]? page = (lid, IsDiscovery) switch
        {
            (LogPageIds.Discovery, true) => BuildDiscoveryLog(ctx.Queue.LocalEndPoint),
            (LogPageIds.Discovery, false) => null,
            (LogPageIds.SupportedLogPages, false) => BuildSupportedLogs(),
            (LogPageIds.ErrorInformation, _) => BuildErrorLog(),
            (LogPageIds.SmartHealth, false) => BuildSmartLog(cmd.Nsid),
            (LogPageIds.FirmwareSlot, false) => BuildFirmwareSlotLog(),
            (LogPageIds.ChangedNamespaceList, false) => BuildChangedNamespaceList(rae),
            (LogPageIds.CommandsSupportedAndEffects, false) => BuildEffectsLog(),
            (LogPageIds.ReservationNotification, false) => BuildReservationNotificationLog(rae),
            (LogPageIds.AsymmetricNamespaceAccess, false) => BuildAnaLog(ctx.Queue.Port.Id, (lsp & AnaLogPage.LspReturnGroupsOnly) != 0),
            _ => null,
        };
        if (page is null)
        {
            return AdminResult.Error(NvmeStatusCodes.InvalidLogPage);
        }

        if (offset > (ulong)page.Length)
        {
            return AdminResult.Error(NvmeStatusCodes.InvalidField);
        }

        if (lid == LogPageIds.Discovery && !rae)
        {
            lock (_lock)
            {
                _discoveryNoticeMasked = false;
            }
        }

        // NVMe Base 2.0 §5.2: reading the log page an event names, without RAE, re-arms that event.
        if (lid == LogPageIds.AsymmetricNamespaceAccess && !rae)
        {
            lock (_lock)
            {
                _anaNoticeMasked = false;
            }
        }

        // Past the end of the page the host reads zeroes, as from the Linux target.
        var dest = ctx.Data[..(int)length];
        dest.Clear();
        var available = (int)Math.Min((ulong)page.Length - offset, length);
        page.AsSpan((int)offset, available).CopyTo(dest);
        return new AdminResult(NvmeStatus.Success, DataLength: (int)length);
    }

    private byte[] BuildDiscoveryLog(EndPoint? local)
    {
        var entries = new List<DiscoveryLogEntry>();
        var ports = new List<TargetPortInfo>(Registry.Ports);
        ports.Sort((a, b) => a.Id.CompareTo(b.Id));

        // A gateway group's other members' ports follow ours, for the same subsystems (a host finds every path).
        ports.AddRange(Registry.PeerPorts);
        foreach (var port in ports)
        {
            var address = ResolveAddress(port.Address, local);
            var family = IPAddress.TryParse(address, out var ip) && ip.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6
                ? DiscoveryLogEntry.AdrFamIpv6
                : DiscoveryLogEntry.AdrFamIpv4;
            var treq = (byte)(DiscoveryLogEntry.TreqSqFlowControlDisable | port.Tls switch
            {
                PortTlsMode.Required => DiscoveryLogEntry.TreqRequired,
                PortTlsMode.Optional => DiscoveryLogEntry.TreqNotRequired,
                _ => DiscoveryLogEntry.TreqNotSpecified,
            });
            var sectype = port.Tls == PortTlsMode.None ? DiscoveryLogEntry.SecTypeNone : DiscoveryLogEntry.SecTypeTls13;
            var subsystems = new List<Subsystem>(Registry.Subsystems);
            subsystems.Sort((a, b) => string.CompareOrdinal(a.Nqn, b.Nqn));
            foreach (var s in subsystems)
            {
                if (s.AllowsHost(HostNqn))
                {
                    entries.Add(new DiscoveryLogEntry(DiscoveryLogEntry.TrTypeTcp, family, DiscoveryLogEntry.SubTypeNvm, treq, port.Id,
                        0xFFFF, 32, port.Port.ToString(System.Globalization.CultureInfo.InvariantCulture), s.Nqn, address, sectype));
                }
            }
        }

        return DiscoveryLog.Build(Registry.DiscoveryGeneration, entries);
    }

    /// <summary>Linux substitutes the local address of the connection when a port listens on ANY.</summary>
    private static string ResolveAddress(string configured, EndPoint? local)
    {
        if (configured is "0.0.0.0" or "::" or "" && local is IPEndPoint ep)
        {
            var a = ep.Address.IsIPv4MappedToIPv6 ? ep.Address.MapToIPv4() : ep.Address;
            return a.ToString();
        }

        return configured;
    }

    private static byte[] BuildSupportedLogs()
    {
        var page = new byte[1024];
        foreach (var lid in new[] { LogPageIds.SupportedLogPages, LogPageIds.ErrorInformation, LogPageIds.SmartHealth, LogPageIds.FirmwareSlot, LogPageIds.ChangedNamespaceList, LogPageIds.CommandsSupportedAndEffects, LogPageIds.AsymmetricNamespaceAccess, LogPageIds.ReservationNotification })
        {
            BinaryPrimitives.WriteUInt32LittleEndian(page.AsSpan(lid * 4), 1);
        }

        return page;
    }

    /// <summary>Error Information log: 64-byte entries, newest first. Reference §3.6.</summary>
    private byte[] BuildErrorLog()
    {
        var page = new byte[ErrorLogEntries * 64];
        lock (_lock)
        {
            var slot = 0;
            for (var count = _errorCount; count > 0 && slot < ErrorLogEntries && _errorCount - count < ErrorLogEntries; count--)
            {
                var e = _errorLog[(int)(count % ErrorLogEntries)];
                var d = page.AsSpan(slot++ * 64, 64);
                BinaryPrimitives.WriteUInt64LittleEndian(d, e.Count);
                BinaryPrimitives.WriteUInt16LittleEndian(d[8..], e.SqId);
                BinaryPrimitives.WriteUInt16LittleEndian(d[10..], e.Cid);
                BinaryPrimitives.WriteUInt16LittleEndian(d[12..], e.Status.ToCqeField());
                BinaryPrimitives.WriteUInt16LittleEndian(d[14..], 0xFFFF); // parameter error location: not specified
                BinaryPrimitives.WriteUInt32LittleEndian(d[24..], e.Nsid);
                d[29] = DiscoveryLogEntry.TrTypeTcp;
            }
        }

        return page;
    }

    /// <summary>SMART / Health log (512 bytes), controller-wide or for one namespace. Reference §3.6.</summary>
    private byte[] BuildSmartLog(uint nsid)
    {
        long readCmds = 0, writeCmds = 0, bytesRead = 0, bytesWritten = 0, errors = 0;
        foreach (var ns in Subsystem.Namespaces)
        {
            if (nsid is 0 or 0xFFFFFFFF || ns.Nsid == nsid)
            {
                readCmds += Interlocked.Read(ref ns.Counters.ReadCommands);
                writeCmds += Interlocked.Read(ref ns.Counters.WriteCommands);
                bytesRead += Interlocked.Read(ref ns.Counters.BytesRead);
                bytesWritten += Interlocked.Read(ref ns.Counters.BytesWritten);
                errors += Interlocked.Read(ref ns.Counters.Errors);
            }
        }

        var page = new byte[512];
        BinaryPrimitives.WriteUInt16LittleEndian(page.AsSpan(1), 300); // composite temperature, Kelvin
        page[3] = 100; // available spare %
        page[4] = 10;  // spare threshold %

        // Data units are thousands of 512-byte units, rounded up.
        BinaryPrimitives.WriteUInt128LittleEndian(page.AsSpan(32), (UInt128)((bytesRead / 512 + 999) / 1000));
        BinaryPrimitives.WriteUInt128LittleEndian(page.AsSpan(48), (UInt128)((bytesWritten / 512 + 999) / 1000));
        BinaryPrimitives.WriteUInt128LittleEndian(page.AsSpan(64), (UInt128)readCmds);
        BinaryPrimitives.WriteUInt128LittleEndian(page.AsSpan(80), (UInt128)writeCmds);
        BinaryPrimitives.WriteUInt128LittleEndian(page.AsSpan(112), 1);
        BinaryPrimitives.WriteUInt128LittleEndian(page.AsSpan(128), (UInt128)(Environment.TickCount64 / 3_600_000));
        BinaryPrimitives.WriteUInt128LittleEndian(page.AsSpan(160), (UInt128)errors);
        lock (_lock)
        {
            BinaryPrimitives.WriteUInt128LittleEndian(page.AsSpan(176), _errorCount);
        }

        return page;
    }

    private byte[] BuildFirmwareSlotLog()
    {
        var page = new byte[512];
        page[0] = 1; // active firmware in slot 1
        AsciiField.WriteSpacePadded(page.AsSpan(8, 8), Registry.Limits.FirmwareRevision);
        return page;
    }

    /// <summary>
    /// Asymmetric Namespace Access log (0Ch) as seen from <paramref name="portId"/>: one descriptor per group that holds
    /// a namespace of this subsystem (with RGO, also each group named in the configuration), ascending, each with this port's state and
    /// its namespaces ascending (the Linux host walks both lists in order). NVMe Base 2.0 §5.16.1.12.
    /// </summary>
    private byte[] BuildAnaLog(ushort portId, bool groupsOnly)
    {
        var ana = Registry.Ana;
        var members = new SortedDictionary<uint, List<uint>>();

        // NVMe Base 2.0 §5.16.1.12: with RGO clear the page describes the groups holding attached namespaces (hosts
        // such as SPDK size their buffer for that); with RGO set, every group, so configured empty ones are listed too.
        if (groupsOnly)
        {
            foreach (var group in ana.NamedGroups())
            {
                members[group] = [];
            }
        }

        foreach (var nsid in Subsystem.ActiveNsids())
        {
            if (Subsystem.FindNamespace(nsid) is { } ns)
            {
                if (!members.TryGetValue(ns.AnaGroupId, out var list))
                {
                    members[ns.AnaGroupId] = list = [];
                }

                list.Add(nsid);
            }
        }

        // The header's count is read first: a change between it and the descriptors shows up as a newer count next time.
        var changeCount = ana.ChangeCount;
        var groups = new List<AnaGroupDescriptor>(members.Count);
        foreach (var (group, nsids) in members)
        {
            groups.Add(new AnaGroupDescriptor(group, ana.GroupChangeCount(group), ana.StateOf(portId, group), nsids));
        }

        return new AnaLogPage(changeCount, groups).ToArray(groupsOnly);
    }

    /// <summary>Changed Namespace List: reading it (without RAE) clears the list and re-arms the notice.</summary>
    private byte[] BuildChangedNamespaceList(bool retainAsyncEvent)
    {
        var page = new byte[NamespaceIdList.Size];
        lock (_lock)
        {
            var i = 0;
            if (_changedNamespaces.Count >= NamespaceIdList.MaxEntries)
            {
                NamespaceIdList.Write(page, 0, NamespaceIdList.Overflow);
            }
            else
            {
                foreach (var nsid in _changedNamespaces)
                {
                    NamespaceIdList.Write(page, i++, nsid);
                }
            }

            if (!retainAsyncEvent)
            {
                _changedNamespaces.Clear();
                _namespaceNoticeMasked = false;
            }
        }

        return page;
    }

    /// <summary>Commands Supported and Effects: CSUPP for what we execute, LBCC for commands that change data.</summary>
    private static byte[] BuildEffectsLog()
    {
        var page = new byte[4096];
        foreach (var op in new[] { AdminOpcodes.GetLogPage, AdminOpcodes.Identify, AdminOpcodes.Abort, AdminOpcodes.SetFeatures, AdminOpcodes.GetFeatures, AdminOpcodes.AsyncEventRequest, AdminOpcodes.KeepAlive })
        {
            BinaryPrimitives.WriteUInt32LittleEndian(page.AsSpan(op * 4), 1);
        }

        foreach (var op in new[] { IoOpcodes.Flush, IoOpcodes.Read, IoOpcodes.Compare, IoOpcodes.ReservationRegister, IoOpcodes.ReservationReport, IoOpcodes.ReservationAcquire, IoOpcodes.ReservationRelease })
        {
            BinaryPrimitives.WriteUInt32LittleEndian(page.AsSpan(1024 + (op * 4)), 1);
        }

        foreach (var op in new[] { IoOpcodes.Write, IoOpcodes.WriteZeroes, IoOpcodes.DatasetManagement })
        {
            BinaryPrimitives.WriteUInt32LittleEndian(page.AsSpan(1024 + (op * 4)), 0x3); // CSUPP | LBCC
        }

        return page;
    }
}
