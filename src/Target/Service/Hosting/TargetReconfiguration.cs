using Microsoft.Extensions.Logging;
using NvmeMptls.Target.Configuration;
using NvmeMptls.Target.Gateway;
using NvmeMptls.Target.Server;
using NvmeMptls.Target.Subsystems;

namespace NvmeMptls.Target.Hosting;

/// <summary>
/// Applies the difference between two validated option sets to a running target: subsystems, namespaces, host
/// access lists and ports. Anything untouched keeps running — I/O on an unchanged namespace never notices. A
/// namespace or port whose settings changed is removed and added again. Each step is logged; a step that fails
/// is logged and the others still run.
/// </summary>
internal sealed partial class TargetReconfiguration(NvmeTargetServer server, ILoggerFactory loggerFactory, ILogger logger, GatewayCoordinator? gateway = null)
{
    private TargetRegistry Registry => server.Registry;

    public async Task ApplyAsync(TargetOptions previous, TargetOptions next)
    {
        await ApplySubsystemsAsync(previous, next).ConfigureAwait(false);
        await ApplyPortsAsync(previous, next).ConfigureAwait(false);
        await Step("apply gateway group settings", () =>
        {
            ApplyGateway(previous.Gateway, next.Gateway);
            return Task.CompletedTask;
        }).ConfigureAwait(false);
        await Step("apply ANA states", () =>
        {
            TargetBuilder.ApplyAna(Registry, next, gateway?.States());
            foreach (var port in next.Ports)
            {
                var before = previous.Ports.FirstOrDefault(p => p.Id == port.Id);
                if (before is null || !before.AnaStates.Equals(port.AnaStates))
                {
                    Log.AnaStatesChanged(logger, port.Id, port.AnaStates.ToString());
                }
            }

            return Task.CompletedTask;
        }).ConfigureAwait(false);
        // Secrets (inline or in key files whose contents may have changed) are re-read on every reload; a running
        // transaction keeps the keys it started with, the next Negotiate uses the new ones.
        await Step("reload DH-HMAC-CHAP secrets", () =>
        {
            Registry.Authentication = TargetBuilder.BuildAuthentication(next.DhChap);
            Log.DhChapReloaded(logger, next.DhChap.Hosts.Length);
            return Task.CompletedTask;
        }).ConfigureAwait(false);
        LogRestartOnly(previous, next);
        Log.Applied(logger, next.Subsystems.Length, next.Ports.Length);
    }

    private async Task ApplySubsystemsAsync(TargetOptions previous, TargetOptions next)
    {
        var drain = next.ShutdownGracePeriod;
        foreach (var old in previous.Subsystems)
        {
            if (Find(next.Subsystems, old.Nqn) is null)
            {
                await Step($"remove subsystem {old.Nqn}", () => RemoveSubsystemAsync(old.Nqn, drain)).ConfigureAwait(false);
            }
        }

        foreach (var s in next.Subsystems)
        {
            var old = Find(previous.Subsystems, s.Nqn);
            if (old is null || Registry.Find(s.Nqn) is not { } live)
            {
                await Step($"add subsystem {s.Nqn}", () =>
                {
                    var subsystem = TargetBuilder.BuildSubsystem(s, loggerFactory);
                    Registry.AddSubsystem(subsystem);
                    Log.SubsystemAdded(logger, s.Nqn, s.Namespaces.Length);
                    return Task.CompletedTask;
                }).ConfigureAwait(false);
                continue;
            }

            if (old.Serial != s.Serial || old.Model != s.Model)
            {
                Log.RestartRequired(logger, $"Target:Subsystems ({s.Nqn}): Serial/Model");
            }

            if (old.AllowAnyHost != s.AllowAnyHost || !old.AllowedHosts.SequenceEqual(s.AllowedHosts))
            {
                live.Access = TargetBuilder.ToAccess(s);
                Registry.DiscoveryChanged();
                Log.AccessChanged(logger, s.Nqn, s.AllowAnyHost, s.AllowedHosts.Length);
            }

            await ApplyNamespacesAsync(live, old, s, drain).ConfigureAwait(false);
        }
    }

    private async Task ApplyNamespacesAsync(Subsystem live, SubsystemOptions old, SubsystemOptions next, TimeSpan drain)
    {
        foreach (var ns in old.Namespaces)
        {
            var replacement = FindNamespace(next.Namespaces, ns.Nsid);
            if (replacement is not null && replacement.AnaGroup != ns.AnaGroup && replacement with { AnaGroup = ns.AnaGroup } == ns)
            {
                // Only the ANA group changed: move the live namespace, no drain (ANA Change notice to every controller).
                live.SetAnaGroup(ns.Nsid, replacement.AnaGroup);
                Log.NamespaceAnaGroupChanged(logger, live.Nqn, ns.Nsid, ns.AnaGroup, replacement.AnaGroup);
                continue;
            }

            if (replacement is null || replacement != ns)
            {
                await Step($"remove namespace {ns.Nsid} of {live.Nqn}", async () =>
                {
                    if (await live.RemoveNamespaceAsync(ns.Nsid, drain).ConfigureAwait(false))
                    {
                        Log.NamespaceRemoved(logger, live.Nqn, ns.Nsid);
                    }
                }).ConfigureAwait(false);
            }
        }

        foreach (var ns in next.Namespaces)
        {
            var before = FindNamespace(old.Namespaces, ns.Nsid);
            if (before is null || before with { AnaGroup = ns.AnaGroup } != ns)
            {
                await Step($"add namespace {ns.Nsid} of {live.Nqn}", () =>
                {
                    var built = TargetBuilder.BuildNamespace(ns, loggerFactory);
                    if (live.AddNamespace(built))
                    {
                        Log.NamespaceAdded(logger, live.Nqn, ns.Nsid, built.Device.Kind, built.Device.Description, built.Device.SizeBytes);
                    }
                    else
                    {
                        Log.StepFailed(logger, $"add namespace {ns.Nsid} of {live.Nqn}", "NSID still in use");
                        return built.Device.DisposeAsync().AsTask();
                    }

                    return Task.CompletedTask;
                }).ConfigureAwait(false);
            }
        }
    }

    private async Task RemoveSubsystemAsync(string nqn, TimeSpan drain)
    {
        if (Registry.RemoveSubsystem(nqn) is not { } removed)
        {
            return;
        }

        // New Connects fail at once (unknown subsystem); live controllers close, which ends their connections.
        foreach (var controller in removed.Controllers.ToList())
        {
            await controller.CloseAsync("subsystem removed by configuration").ConfigureAwait(false);
        }

        foreach (var ns in removed.Namespaces.ToList())
        {
            await removed.RemoveNamespaceAsync(ns.Nsid, drain).ConfigureAwait(false);
        }

        Log.SubsystemRemoved(logger, nqn);
    }

    private async Task ApplyPortsAsync(TargetOptions previous, TargetOptions next)
    {
        foreach (var old in previous.Ports)
        {
            var now = next.Ports.FirstOrDefault(p => p.Id == old.Id);
            if (now is null || now with { AnaStates = old.AnaStates } != old)
            {
                await Step($"stop port {old.Id}", async () =>
                {
                    if (await server.StopPortAsync((ushort)old.Id).ConfigureAwait(false))
                    {
                        Log.PortStopped(logger, old.Id, old.Address, old.Port);
                    }
                }).ConfigureAwait(false);
            }
        }

        foreach (var port in next.Ports)
        {
            var before = previous.Ports.FirstOrDefault(p => p.Id == port.Id);
            if (before is null || before with { AnaStates = port.AnaStates } != port)
            {
                await Step($"start port {port.Id}", () =>
                {
                    server.StartPort(TargetBuilder.ToBinding(port));
                    if (port.Port != 0)
                    {
                        // StartPort registers an ephemeral port itself, with the port number it got.
                        Registry.AddPort(TargetBuilder.ToPortInfo(port));
                    }
                    Log.PortStarted(logger, port.Id, port.Address, port.Port);
                    return Task.CompletedTask;
                }).ConfigureAwait(false);
            }
        }
    }

    /// <summary>StandbyState, PreferredOwner and Members apply live; the rest of Target:Gateway at the next start.</summary>
    private void ApplyGateway(GatewayOptions? previous, GatewayOptions? next)
    {
        if (previous is null && next is null || previous is not null && next is not null && previous.Equals(next))
        {
            return;
        }

        if (gateway is null || previous is null || next is null)
        {
            Log.RestartRequired(logger, "Target:Gateway (adding or removing the section)");
            return;
        }

        gateway.SetStandbyState(next.StandbyState);
        Registry.PeerPorts = GatewayHosting.PeerPorts(next);
        gateway.SetPreferredOwners(next.AnaGroups.ToDictionary(g => g.Id, g => g.PreferredOwner));
        Log.GatewayReloaded(logger, next.Group, Transport.Nvme.AnaStates.Name(next.StandbyState), next.Members.Length);
        if (!previous.SameExceptLive(next))
        {
            Log.RestartRequired(logger, "Target:Gateway (other than StandbyState, AnaGroups:N:PreferredOwner and Members)");
        }
    }

    private void LogRestartOnly(TargetOptions previous, TargetOptions next)
    {
        if (previous.Limits != next.Limits)
        {
            Log.RestartRequired(logger, "Target:Limits");
        }

        if (previous.SendMode != next.SendMode)
        {
            Log.RestartRequired(logger, "Target:SendMode");
        }

        if (previous.ReceivePollMicroseconds != next.ReceivePollMicroseconds)
        {
            Log.RestartRequired(logger, "Target:ReceivePollMicroseconds");
        }

        if (previous.KeepAlive != next.KeepAlive)
        {
            Log.RestartRequired(logger, "Target:KeepAlive");
        }

        if (previous.Timeouts != next.Timeouts)
        {
            Log.RestartRequired(logger, "Target:Timeouts");
        }

        if (previous.Metrics != next.Metrics)
        {
            Log.RestartRequired(logger, "Target:Metrics");
        }

        if (previous.Tls with { Keys = [] } != next.Tls with { Keys = [] })
        {
            Log.RestartRequired(logger, "Target:Tls (other than Keys)");
        }
    }

    private async Task Step(string what, Func<Task> action)
    {
        try
        {
            await action().ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            Log.StepFailed(logger, what, ex.Message);
        }
    }

    private static SubsystemOptions? Find(IEnumerable<SubsystemOptions> list, string nqn) =>
        list.FirstOrDefault(s => string.Equals(s.Nqn, nqn, StringComparison.Ordinal));

    private static NamespaceOptions? FindNamespace(IEnumerable<NamespaceOptions> list, uint nsid) =>
        list.FirstOrDefault(n => n.Nsid == nsid);

    private static partial class Log
    {
        [LoggerMessage(EventId = 5120, Level = LogLevel.Information, Message = "Gateway group {Group}: reloaded (standby state {StandbyState}, {Members} members)")]
        public static partial void GatewayReloaded(ILogger logger, string group, string standbyState, int members);

        [LoggerMessage(EventId = 5101, Level = LogLevel.Information, Message = "Reload: subsystem {SubsystemNqn} added with {Namespaces} namespace(s)")]
        public static partial void SubsystemAdded(ILogger logger, string subsystemNqn, int namespaces);

        [LoggerMessage(EventId = 5102, Level = LogLevel.Information, Message = "Reload: subsystem {SubsystemNqn} removed; its controllers were closed")]
        public static partial void SubsystemRemoved(ILogger logger, string subsystemNqn);

        [LoggerMessage(EventId = 5103, Level = LogLevel.Information, Message = "Reload: {SubsystemNqn} namespace {Nsid} added ({Kind} {Description}, {SizeBytes} bytes); connected hosts notified")]
        public static partial void NamespaceAdded(ILogger logger, string subsystemNqn, uint nsid, string kind, string description, long sizeBytes);

        [LoggerMessage(EventId = 5104, Level = LogLevel.Information, Message = "Reload: {SubsystemNqn} namespace {Nsid} removed after draining its in-flight I/O")]
        public static partial void NamespaceRemoved(ILogger logger, string subsystemNqn, uint nsid);

        [LoggerMessage(EventId = 5105, Level = LogLevel.Information, Message = "Reload: {SubsystemNqn} access changed: any host {AllowAnyHost}, {Hosts} listed host(s)")]
        public static partial void AccessChanged(ILogger logger, string subsystemNqn, bool allowAnyHost, int hosts);

        [LoggerMessage(EventId = 5106, Level = LogLevel.Information, Message = "Reload: port {PortId} ({Address}:{Port}) started")]
        public static partial void PortStarted(ILogger logger, int portId, string address, int port);

        [LoggerMessage(EventId = 5107, Level = LogLevel.Information, Message = "Reload: port {PortId} ({Address}:{Port}) stopped; its open connections go on")]
        public static partial void PortStopped(ILogger logger, int portId, string address, int port);

        [LoggerMessage(EventId = 5108, Level = LogLevel.Warning, Message = "Reload: a change of {Key} takes effect only after a restart")]
        public static partial void RestartRequired(ILogger logger, string key);

        [LoggerMessage(EventId = 5109, Level = LogLevel.Error, Message = "Reload: could not {Step}: {Detail}")]
        public static partial void StepFailed(ILogger logger, string step, string detail);

        [LoggerMessage(EventId = 5110, Level = LogLevel.Information, Message = "Reload applied: {Subsystems} subsystem(s), {Ports} port(s)")]
        public static partial void Applied(ILogger logger, int subsystems, int ports);

        [LoggerMessage(EventId = 5112, Level = LogLevel.Information, Message = "Reload: port {PortId} ANA states now {States} (groups not listed are optimized); controllers on the port notified")]
        public static partial void AnaStatesChanged(ILogger logger, int portId, string states);

        [LoggerMessage(EventId = 5113, Level = LogLevel.Information, Message = "Reload: {SubsystemNqn} namespace {Nsid} moved from ANA group {OldGroup} to {NewGroup}; controllers notified")]
        public static partial void NamespaceAnaGroupChanged(ILogger logger, string subsystemNqn, uint nsid, uint oldGroup, uint newGroup);

        [LoggerMessage(EventId = 5111, Level = LogLevel.Information, Message = "Reload: DH-HMAC-CHAP secrets re-read ({Entries} host entr(ies)); new authentications use them")]
        public static partial void DhChapReloaded(ILogger logger, int entries);
    }
}
