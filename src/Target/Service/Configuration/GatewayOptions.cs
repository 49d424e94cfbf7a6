using System.Collections.Immutable;
using Microsoft.Extensions.Configuration;
using NvmeMptls.Target.Subsystems;
using NvmeMptls.Transport.Nvme;

namespace NvmeMptls.Target.Configuration;

/// <summary>
/// The gateway group this target belongs to (section "Target:Gateway"; absent: no gateway group). Each managed ANA
/// group is owned by one member through a lease in RADOS (pool <see cref="Pool"/>); its ports serve the group
/// optimized and the other members' ports show <see cref="StandbyState"/>.
/// </summary>
public sealed record GatewayOptions
{
    /// <summary>The gateway group's name (part of every lease object's name).</summary>
    public string Group { get; init; } = "";

    /// <summary>This gateway's member name (one of <see cref="Members"/>).</summary>
    public string Name { get; init; } = "";

    public string Pool { get; init; } = "";

    public string? RadosNamespace { get; init; }

    public string? CephConf { get; init; }

    public string? CephId { get; init; }

    public TimeSpan LeaseDuration { get; init; } = TimeSpan.FromSeconds(15);

    /// <summary>Null: a fifth of the lease duration.</summary>
    public TimeSpan? SafetyMargin { get; init; }

    public AnaState StandbyState { get; init; } = AnaState.Inaccessible;

    public ImmutableArray<GatewayAnaGroupOptions> AnaGroups { get; init; } = [];

    public ImmutableArray<GatewayMemberOptions> Members { get; init; } = [];

    public TimeSpan EffectiveSafetyMargin => SafetyMargin ?? LeaseDuration / 5;

    /// <summary>Members a group may have: one controller-id range of 4096 each in 1..FFEFh.</summary>
    public const int MaxMembers = 16;

    /// <summary>
    /// The controller ids this gateway hands out: member k of <see cref="Members"/> (from 0) takes k×4096+1 to
    /// k×4096+4096 (the sixteenth up to FFEFh). A host refuses a second controller of a subsystem whose CNTLID it
    /// already knows (Linux: "Duplicate cntlid"), so the gateways of one subsystem must not overlap; keep Members in
    /// the same order on every gateway. (1, FFEFh) when this gateway is not listed.
    /// </summary>
    public (ushort Min, ushort Max) ControllerIdRange
    {
        get
        {
            var k = Members.Select(m => m.Name).ToList().IndexOf(Name);
            if (k < 0 || k >= MaxMembers)
            {
                return (1, 0xFFEF);
            }

            return ((ushort)((k * 4096) + 1), (ushort)Math.Min((k * 4096) + 4096, 0xFFEF));
        }
    }

    public bool Equals(GatewayOptions? other) =>
        other is not null && Group == other.Group && Name == other.Name && Pool == other.Pool && RadosNamespace == other.RadosNamespace
        && CephConf == other.CephConf && CephId == other.CephId && LeaseDuration == other.LeaseDuration && SafetyMargin == other.SafetyMargin
        && StandbyState == other.StandbyState && AnaGroups.SequenceEqual(other.AnaGroups) && Members.SequenceEqual(other.Members);

    public override int GetHashCode() => HashCode.Combine(Group, Name, Pool, LeaseDuration, StandbyState, AnaGroups.Length, Members.Length);

    /// <summary>The same except the keys a reload can apply live (StandbyState, PreferredOwner, Members).</summary>
    public bool SameExceptLive(GatewayOptions other) =>
        this with { StandbyState = other.StandbyState, Members = other.Members, AnaGroups = other.AnaGroups.Select(g => g with { PreferredOwner = null }).ToImmutableArray() }
        == other with { AnaGroups = other.AnaGroups.Select(g => g with { PreferredOwner = null }).ToImmutableArray() };

    internal static GatewayOptions? Read(IConfigurationSection target, List<string> errors)
    {
        var section = target.GetSection("Gateway");
        if (!section.Exists())
        {
            return null;
        }

        var defaults = new GatewayOptions();
        var options = new GatewayOptions
        {
            Group = Text(section, "Group") ?? "",
            Name = Text(section, "Name") ?? "",
            Pool = Text(section, "Pool") ?? "",
            RadosNamespace = Text(section, "RadosNamespace"),
            CephConf = Text(section, "CephConf"),
            CephId = Text(section, "CephId"),
            LeaseDuration = Duration(section, "LeaseDuration", errors) ?? defaults.LeaseDuration,
            SafetyMargin = Duration(section, "SafetyMargin", errors),
            AnaGroups = [.. section.GetSection("AnaGroups").GetChildren().Select(g => new GatewayAnaGroupOptions
            {
                Id = uint.TryParse(g["Id"], out uint id) ? id : Error(g, "Id", $"must be an ANA group id from 1 to {Subsystems.AnaGroups.MaxGroupId} (was '{g["Id"]}')", errors),
                PreferredOwner = Text(g, "PreferredOwner"),
            })],
            Members = [.. section.GetSection("Members").GetChildren().Select(m => new GatewayMemberOptions
            {
                Name = Text(m, "Name") ?? "",
                ControlUrl = Text(m, "ControlUrl"),
                Ports = [.. m.GetSection("Ports").GetChildren().Select(p => new GatewayMemberPort
                {
                    Address = Text(p, "Address") ?? "",
                    Port = int.TryParse(p["Port"], out int port) ? port : (int)Error(p, "Port", $"must be a TCP port number (was '{p["Port"]}')", errors),
                    Transport = Text(p, "Transport") ?? "tcp",
                    Tls = bool.TryParse(p["Tls"] ?? "false", out bool tls) ? tls : Error(p, "Tls", $"must be true or false (was '{p["Tls"]}')", errors) == 1,
                })],
            })],
        };

        string? standby = Text(section, "StandbyState");
        if (standby is not null)
        {
            options = options with
            {
                StandbyState = standby switch
                {
                    "inaccessible" => AnaState.Inaccessible,
                    "non-optimized" => AnaState.NonOptimized,
                    _ => (AnaState)Error(section, "StandbyState", $"must be inaccessible or non-optimized (was '{standby}')", errors, (uint)AnaState.Inaccessible),
                },
            };
        }

        return options;
    }

    private static uint Error(IConfigurationSection section, string key, string message, List<string> errors, uint fallback = 0)
    {
        errors.Add($"{section.Path}:{key}: {message}");
        return fallback;
    }

    private static TimeSpan? Duration(IConfigurationSection section, string key, List<string> errors)
    {
        string? text = Text(section, key);
        if (text is null)
        {
            return null;
        }

        if (TimeSpan.TryParse(text, System.Globalization.CultureInfo.InvariantCulture, out var value))
        {
            return value;
        }

        errors.Add($"{section.Path}:{key}: must be a duration such as 00:00:15 (was '{text}')");
        return null;
    }

    private static string? Text(IConfigurationSection section, string key) =>
        string.IsNullOrWhiteSpace(section[key]) ? null : section[key]!.Trim();
}

/// <summary>One managed ANA group ("AnaGroups": [ { "Id": 2, "PreferredOwner": "gw1" } ]).</summary>
public sealed record GatewayAnaGroupOptions
{
    public uint Id { get; init; }

    /// <summary>The member that takes the group at once when it is free; null: whoever comes first.</summary>
    public string? PreferredOwner { get; init; }
}

/// <summary>One member of the gateway group: its name, its NVMe/TCP ports (for discovery) and its control URL.</summary>
public sealed record GatewayMemberOptions
{
    public string Name { get; init; } = "";

    /// <summary>The member's metrics/control endpoint base URL (for `nvme-mptls gateway` and forwarded moves); optional.</summary>
    public string? ControlUrl { get; init; }

    public ImmutableArray<GatewayMemberPort> Ports { get; init; } = [];

    public bool Equals(GatewayMemberOptions? other) =>
        other is not null && Name == other.Name && ControlUrl == other.ControlUrl && Ports.SequenceEqual(other.Ports);

    public override int GetHashCode() => HashCode.Combine(Name, ControlUrl, Ports.Length);
}

/// <summary>One port of a member as hosts reach it.</summary>
public sealed record GatewayMemberPort
{
    public string Address { get; init; } = "";

    public int Port { get; init; } = 4420;

    /// <summary>"tcp" (NVMe/TCP; MPTCP is negotiated on the same port).</summary>
    public string Transport { get; init; } = "tcp";

    /// <summary>Whether the port requires TLS (the discovery entry's TREQ).</summary>
    public bool Tls { get; init; }
}
